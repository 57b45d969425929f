"""Catalogue search as window staff type it: Chinese, pinyin, initials, codes.

`SearchIndex` is built once per catalogue (at load) and answers queries from
precomputed, lower-cased strings: for each item its name, the pinyin of its name
in full (``shehuibaozhangkashenling``) and as initials (``shbzksl``), its
department, and the short forms staff say for long official words (社保 for
社会保险/社会保障, 公积金, 医保...), so ``shebao`` finds 社保 items. A query is
matched as a code (exact or prefix on code, task_code, catalog_code,
local_task_code; case, spaces and dashes ignored), as Chinese text, and as pinyin.

Ranking: an exact code match first, then high-frequency items, then match
quality (name equal, name prefix, name substring, pinyin, alias, department),
then shorter names, then code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pypinyin import Style, lazy_pinyin

from gateway.catalog.models import HandlingMode, Item, TaskType

# Short forms people use for long words in item and department names.
ALIASES: dict[str, tuple[str, ...]] = {
    "社会保险": ("社保",),
    "社会保障": ("社保",),
    "人力资源和社会保障": ("人社", "社保"),
    "医疗保障": ("医保",),
    "医疗保险": ("医保",),
    "住房公积金": ("公积金",),
    "居民身份证": ("身份证",),
    "交通警察": ("交警",),
    "出入境": ("出入境",),
    "市场监督管理": ("市监", "工商"),
    "不动产": ("房产",),
    "机动车驾驶证": ("驾驶证", "驾照"),
}

_NOT_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")


class Quality:
    """Match quality; lower is better."""

    CODE_EXACT = 0
    CODE_PREFIX = 1
    NAME_EXACT = 2
    NAME_PREFIX = 3
    NAME_SUBSTRING = 4
    PINYIN_PREFIX = 5
    PINYIN_SUBSTRING = 6
    ALIAS = 7
    DEPARTMENT = 8
    SPELLED_ELSEWHERE = 9  # "sb" found in another word's pinyin (契税申报), not as 社保
    ALL = 10  # empty query: every item that passes the filters


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the item and how well it matched (`Quality`)."""

    item: Item
    quality: int


@dataclass(frozen=True, slots=True)
class _Entry:
    item: Item
    codes: tuple[str, ...]
    name: str
    pinyin: str
    initials: str
    aliases: str
    alias_pinyin: str
    department: str


def normalise(text: str) -> str:
    """Lower-case `text` and drop spaces and punctuation (full- and half-width)."""
    return _NOT_WORD.sub("", text.lower())


def _pinyin(text: str) -> tuple[str, str]:
    syllables = [normalise(s) for s in lazy_pinyin(text, style=Style.NORMAL, errors="ignore")]
    syllables = [s for s in syllables if s]
    return "".join(syllables), "".join(s[0] for s in syllables)


class SearchIndex:
    """Precomputed search strings for every item of a catalogue."""

    def __init__(self, items: Iterable[Item]) -> None:
        entries = []
        for item in items:
            name = normalise(item.task_name)
            full, initials = _pinyin(item.task_name)
            texts = f"{item.task_name} {item.dept_name}"
            aliases = sorted(
                {s for long, shorts in ALIASES.items() if long in texts for s in shorts}
            )
            alias_pinyin = [part for alias in aliases for part in _pinyin(alias)]
            codes = tuple(
                normalise(code)
                for code in (item.code, item.task_code, item.catalog_code, item.local_task_code)
                if code
            )
            entries.append(
                _Entry(
                    item=item,
                    codes=codes,
                    name=name,
                    pinyin=full,
                    initials=initials,
                    aliases=" ".join(aliases),
                    alias_pinyin=" ".join(alias_pinyin),
                    department=normalise(item.dept_name),
                )
            )
        self._entries: tuple[_Entry, ...] = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def search(
        self,
        query: str = "",
        *,
        region: str | None = None,
        department: str | None = None,
        mode: HandlingMode | None = None,
        task_type: TaskType | None = None,
        high_frequency: bool | None = None,
    ) -> list[Hit]:
        """Every item matching `query` and the filters, best first.

        `department` matches a substring of the department name. An empty query
        lists every item that passes the filters (high-frequency first).
        """
        needle = normalise(query)
        dept = normalise(department) if department else None
        ascii_query = needle.isascii()
        # A short form typed in pinyin ("sb", "shebao") means the Chinese word ("社保"):
        # its items rank as for the Chinese query, other pinyin matches after them.
        spelled = _SHORT_FORMS_BY_PINYIN.get(needle) if ascii_query else None
        hits = []
        for entry in self._entries:
            item = entry.item
            if (
                (region is not None and item.competent_region != region)
                or (dept is not None and dept not in entry.department)
                or (mode is not None and mode not in item.handling_modes)
                or (task_type is not None and item.task_type is not task_type)
                or (high_frequency is not None and item.high_frequency is not high_frequency)
            ):
                continue
            quality = _match(entry, needle, ascii_query) if needle else Quality.ALL
            if spelled is not None and quality is not None:
                as_chinese = _match(entry, spelled, False)
                quality = Quality.SPELLED_ELSEWHERE if as_chinese is None else as_chinese
            if quality is not None:
                hits.append(Hit(item, quality))
        hits.sort(key=_rank)
        return hits


def _short_forms_by_pinyin() -> dict[str, str]:
    """Each short form's pinyin, in full and as initials: ``sb`` and ``shebao`` → ``社保``."""
    found: dict[str, str] = {}
    for shorts in ALIASES.values():
        for short in shorts:
            for spelling in _pinyin(short):
                found.setdefault(spelling, normalise(short))
    return found


_SHORT_FORMS_BY_PINYIN = _short_forms_by_pinyin()


def _match(entry: _Entry, needle: str, ascii_query: bool) -> int | None:
    """How well `entry` matches the normalised query `needle`, or None."""
    if needle in entry.codes:
        return Quality.CODE_EXACT
    # A code prefix needs a digit, so pinyin initials such as "sz" do not list a region.
    if any(c.isdigit() for c in needle) and any(code.startswith(needle) for code in entry.codes):
        return Quality.CODE_PREFIX
    if needle == entry.name:
        return Quality.NAME_EXACT
    if entry.name.startswith(needle):
        return Quality.NAME_PREFIX
    if needle in entry.name:
        return Quality.NAME_SUBSTRING
    if ascii_query and needle.isalpha():
        if entry.pinyin.startswith(needle) or entry.initials.startswith(needle):
            return Quality.PINYIN_PREFIX
        if needle in entry.pinyin or needle in entry.initials:
            return Quality.PINYIN_SUBSTRING
        if needle in entry.alias_pinyin:
            return Quality.ALIAS
    if needle in entry.aliases:
        return Quality.ALIAS
    if needle in entry.department:
        return Quality.DEPARTMENT
    return None


def _rank(hit: Hit) -> tuple[bool, bool, int, int, str]:
    item = hit.item
    return (
        hit.quality != Quality.CODE_EXACT,
        not item.high_frequency,
        hit.quality,
        len(item.task_name),
        item.code,
    )


def summary(item: Item) -> dict[str, Any]:
    """The fields of `item` a result list shows (JSON-ready)."""
    return {
        "code": item.code,
        "task_name": item.task_name,
        "competent_region": item.competent_region,
        "dept_name": item.dept_name,
        "task_type": item.task_type.value,
        "handling_modes": [mode.value for mode in item.handling_modes],
        "high_frequency": item.high_frequency,
        "tongban_lists": [name.value for name in item.tongban_lists],
        "source_kind": item.source.kind,
    }
