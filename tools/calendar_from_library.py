"""Write catalogs/calendar/CN-2019.toml ... CN-2026.toml from chinesecalendar, and CN-2027.toml.

Usage: .venv/bin/python tools/calendar_from_library.py [--out catalogs/calendar]

2019-2026: the days come from the ``chinesecalendar`` package (a dev dependency
only; tests/unit/test_calendar_data.py checks the files against it day by day).
The notices' titles, numbers, dates and URLs below were looked up in published
copies; a field that only one unofficial copy showed is listed as unverified, and
every URL is a reprint (the official gov.cn pages could not be consulted).

2027: provisional. The statutory days follow from the 2024 amendment of
《全国年节及纪念日放假办法》 (国务院令第795号) and the lunar calendar (``lunardate``,
also a dev dependency); the 调休 days exist only in the State Council's 2027 notice,
which was not found when this was written (2026-12-03).
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
from lunardate import LunarDate

from gateway.holidays.files import render
from gateway.holidays.schedule import Entry, Source, YearSchedule

NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}
# 国办发明电〔2020〕1号 extended the 2020 Spring Festival to 2 February.
EXTENDED_2020 = (date(2020, 1, 31), date(2020, 2, 2))

TITLE = "国务院办公厅关于{year}年部分节假日安排的通知"
REPRINT_NOTE = "URL: a reprint of the document's text; the official page was not consulted."


def notice(
    year: int,
    number: str,
    when: date,
    url: str,
    *,
    unverified: tuple[str, ...] = (),
    note: str = "",
) -> Source:
    return Source(
        kind="notice",
        title=TITLE.format(year=year),
        number=number,
        date=when,
        url=url,
        url_kind="reprint",
        unverified=unverified,
        note=" ".join(part for part in (note, REPRINT_NOTE) if part),
    )


NOTICES: dict[int, tuple[Source, ...]] = {
    2019: (
        notice(
            2019,
            "国办发明电〔2018〕15号",
            date(2018, 12, 4),
            "http://czj.gnzrmzf.gov.cn/info/1282/12573.htm",
        ),
        Source(
            kind="notice",
            title="国务院办公厅关于调整2019年劳动节假期安排的通知",
            number="国办发明电〔2019〕3号",
            date=date(2019, 3, 22),
            url="http://www.hxnews.com/news/gn/szxw/201903/22/1727059.shtml",
            url_kind="reprint",
            note="Labour Day 1-4 May; 28 April and 5 May worked. Number as two other reprints "
            "print it. " + REPRINT_NOTE,
        ),
    ),
    2020: (
        notice(
            2020,
            "国办发明电〔2019〕16号",
            date(2019, 11, 21),
            "http://gansulong.com/c/0Q25M3X2022_2.html",
        ),
        Source(
            kind="notice",
            title="国务院办公厅关于延长2020年春节假期的通知",
            number="国办发明电〔2020〕1号",
            date=date(2020, 1, 26),
            url="https://www.farmer.com.cn/2020/01/27/99847578.html",
            url_kind="reprint",
            unverified=("number",),
            note="Spring Festival extended to 2 February. The number appears in one "
            "unofficial copy only. " + REPRINT_NOTE,
        ),
    ),
    2021: (
        notice(
            2021,
            "国办发明电〔2020〕27号",
            date(2020, 11, 25),
            "http://epaper.gmw.cn/gmrb/html/2020-11/26/nw.D110000gmrb_20201126_7-03.htm",
            note="光明日报 print of the Xinhua text; number as other reprints print it.",
        ),
    ),
    2022: (
        notice(
            2022,
            "国办发明电〔2021〕11号",
            date(2021, 10, 25),
            "http://www.beijing.gov.cn/zhengce/zhengcefagui/202110/t20211026_2520500.html",
            note="Beijing government portal's copy.",
        ),
    ),
    2023: (
        notice(
            2023,
            "国办发明电〔2022〕16号",
            date(2022, 12, 8),
            "https://zh.m.wikisource.org/zh/国务院办公厅关于2023年部分节假日安排的通知",
            note="Wikisource copy, citing 国务院公报 2023年第1号.",
        ),
    ),
    2024: (
        notice(
            2024,
            "国办发明电〔2023〕7号",
            date(2023, 10, 25),
            "http://paper.people.com.cn/rmrb/html/2023-10/26/nw.D110000renmrb_20231026_3-06.htm",
            note="人民日报 print of the Xinhua text; number per the Wikisource copy "
            "(国务院公报 2023年第31号).",
        ),
    ),
    2025: (
        notice(
            2025,
            "国办发明电〔2024〕12号",
            date(2024, 11, 12),
            "https://m.gmw.cn/2024-11/12/content_1303894933.htm",
            unverified=("number",),
            note="光明网 copy of the Xinhua text, which prints no number; the number "
            "appears in one unofficial copy only.",
        ),
    ),
    2026: (
        notice(
            2026,
            "国办发明电〔2025〕7号",
            date(2025, 11, 4),
            "https://politics.gmw.cn/2025-11/04/content_38391083.htm",
            unverified=("number",),
            note="光明网 copy of the Xinhua text, which prints no number; the number "
            "appears in one unofficial copy only.",
        ),
    ),
}

REGULATION = Source(
    kind="regulation",
    title="国务院关于修改《全国年节及纪念日放假办法》的决定",
    number="国务院令第795号",
    date=date(2024, 11, 10),
    url="https://zggxw.com.cn/yaowen/9563.html",
    url_kind="reprint",
    note="In force from 2025-01-01: 元旦1天, 春节4天(除夕、正月初一至初三), 清明节1天, "
    "劳动节2天(5月1日、2日), 端午节1天, 中秋节1天, 国庆节3天(10月1日至3日). " + REPRINT_NOTE,
)


def from_library(year: int) -> YearSchedule:
    days_off, working = [], []
    day = date(year, 1, 1)
    while day.year == year:
        workday = chinese_calendar.is_workday(day)
        if day.weekday() < 5 and not workday:
            _, holiday = chinese_calendar.get_holiday_detail(day)
            name = NAMES[holiday] if holiday else "休息"
            if EXTENDED_2020[0] <= day <= EXTENDED_2020[1]:
                name = "春节（延长假期）"
            days_off.append(Entry(day, name))
        elif day.weekday() >= 5 and workday:
            _, holiday = chinese_calendar.get_holiday_detail(day)
            working.append(Entry(day, f"{NAMES[holiday]}调休上班" if holiday else "调休上班"))
        day += timedelta(days=1)
    return YearSchedule(
        year=year,
        region="CN",
        provisional=False,
        basis=None,
        sources=NOTICES[year],
        days_off=tuple(days_off),
        working_days=tuple(working),
    )


def statutory_days(year: int) -> list[Entry]:
    """The statutory holidays of `year` under the rules in force from 2025, weekends included."""
    new_year = LunarDate(year, 1, 1).to_solar_date()
    qingming = next(day for day, term in _solar_terms(year) if term == "清明")
    return [
        Entry(date(year, 1, 1), "元旦"),
        Entry(new_year - timedelta(days=1), "春节（除夕）"),
        *(Entry(new_year + timedelta(days=n), f"春节（正月初{'一二三'[n]}）") for n in range(3)),
        Entry(qingming, "清明节"),
        Entry(date(year, 5, 1), "劳动节"),
        Entry(date(year, 5, 2), "劳动节"),
        Entry(LunarDate(year, 5, 5).to_solar_date(), "端午节"),
        Entry(LunarDate(year, 8, 15).to_solar_date(), "中秋节"),
        *(Entry(date(year, 10, d), "国庆节") for d in (1, 2, 3)),
    ]


def _solar_terms(year: int) -> list[tuple[date, str]]:
    terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    return [(day, str(term)) for day, term in terms]


def provisional(year: int) -> YearSchedule:
    statutory = statutory_days(year)
    weekday = [e for e in statutory if e.day.weekday() < 5]
    weekend = [e for e in statutory if e.day.weekday() >= 5]

    def listed(entries: list[Entry]) -> str:
        return "、".join(f"{e.day.month}月{e.day.day}日{e.name}" for e in entries)

    basis = (
        f"{year}年的国务院办公厅节假日安排通知尚未收录。本文件只列出按现行《全国年节及纪念日放假办法》"
        f"（2024年修订，国务院令第795号）和农历推算、落在工作日的法定假日：{listed(weekday)}。"
        f"适逢周末的法定假日（{listed(weekend)}）依该办法应在工作日补假，补在哪天、哪些周末调休上班，"
        "只能由通知确定：在导入通知之前，依赖本年度的期限均标为暂定。"
    )
    return YearSchedule(
        year=year,
        region="CN",
        provisional=True,
        basis=basis,
        sources=(REGULATION,),
        days_off=tuple(weekday),
    )


HEADER_EXACT = (
    "{year}: mainland China's public holidays that fall on weekdays (days_off) and the",
    "weekend days worked instead (working_days, 调休), with the notice they come from.",
    "Generated by tools/calendar_from_library.py from chinesecalendar {version};",
    "tests/unit/test_calendar_data.py checks it against that library day by day.",
)
HEADER_PROVISIONAL = (
    "{year}: PROVISIONAL. Statutory holidays derived from the rules in force and the lunar",
    "calendar; no 调休 days until the State Council's notice is imported",
    "(`tongban calendar import`). Generated by tools/calendar_from_library.py.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("catalogs/calendar"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    version = getattr(chinese_calendar, "__version__", "?")
    for year in sorted(NOTICES):
        header = [line.format(year=year, version=version) for line in HEADER_EXACT]
        (args.out / f"CN-{year}.toml").write_text(render(from_library(year), header), "utf-8")
    header = [line.format(year=2027) for line in HEADER_PROVISIONAL]
    (args.out / "CN-2027.toml").write_text(render(provisional(2027), header), "utf-8")
    print(f"wrote {len(NOTICES) + 1} files to {args.out}")


if __name__ == "__main__":
    main()
