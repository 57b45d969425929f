"""``tongban calendar show|check|import`` as ops run them (no database needed to read)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    config = tmp_path / "tongban.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n\n[calendar]\n'
        f'directory = "{REPO / "catalogs" / "calendar"}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["calendar", *args, "--config", str(config)])
    return result.exit_code, result.output


def test_show_a_provisional_year_with_its_basis_and_source(tmp_path: Path) -> None:
    code, output = run(tmp_path, "show", "2027")
    assert code == 0, output
    assert output.startswith("2027年  暂定（通知未公布）")
    assert "国务院令第795号" in output
    assert "2027-01-01  周五  元旦" in output
    assert "调休上班（周末）：\n    （无）" in output


def test_show_json_marks_unverified_fields(tmp_path: Path) -> None:
    code, output = run(tmp_path, "show", "2026", "--json")
    assert code == 0, output
    document = json.loads(output)
    assert document["status"] == "exact"
    (source,) = document["schedules"][0]["sources"]
    assert (source["number"], source["unverified"]) == ("国办发明电〔2025〕7号", ["number"])
    assert {"date": "2026-10-10", "name": "国庆节调休上班"} in document["schedules"][0][
        "working_days"
    ]
    code, output = run(tmp_path, "show", "2031")
    assert "缺失" in output


def test_check_lists_the_years(tmp_path: Path) -> None:
    code, output = run(tmp_path, "check", "--json")
    assert code == 0, output
    years = json.loads(output)["years"]
    assert years["2026"] == "exact"
    assert years["2027"] == "provisional"


def test_import_a_csv_without_a_database_writes_the_year(tmp_path: Path) -> None:
    notice = tmp_path / "2027.csv"
    notice.write_text(
        "date,kind,name\n2027-01-01,off,元旦\n2027-01-09,work,测试调休\n", encoding="utf-8"
    )
    code, output = run(
        tmp_path,
        "import",
        str(notice),
        "--title",
        "测试数据：并非官方通知",
        "--unverified",
        "number",
        "--unverified",
        "date",
        "--unverified",
        "url",
    )
    assert code == 0, output
    assert "尚无数据库" in output
    written = tmp_path / "var" / "calendar" / "CN-2027.toml"
    assert 'title = "测试数据：并非官方通知"' in written.read_text("utf-8")
    code, output = run(tmp_path, "check", "--json")
    assert json.loads(output)["years"]["2027"] == "exact"


def test_import_refuses_a_csv_with_its_line_and_writes_nothing(tmp_path: Path) -> None:
    notice = tmp_path / "2027.csv"
    notice.write_text("date,kind,name\n2027-01-01,off,元旦\n2027-01-02,off,周六\n", "utf-8")
    code, output = run(tmp_path, "import", str(notice), "--title", "t", "--number", "n")
    assert code == 1
    assert f"{notice}:3: day off 2027-01-02 is a Saturday" in output
    assert f"{notice}: source lacks date, url" in output  # the --title/--number options
    assert not (tmp_path / "var" / "calendar" / "CN-2027.toml").exists()
