"""`tongban catalog ...` through click's CliRunner, against the real catalogue."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import gateway.config.store
from gateway.cli import main
from gateway.resources import packaged_catalog_dir

REPO = Path(__file__).resolve().parents[2]
CATALOGS = str(REPO / "catalogs")
EXAMPLES = REPO / "contracts" / "examples" / "catalog_import"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["catalog", *args])
    return result.exit_code, result.stdout, result.stderr


def test_stats_json() -> None:
    code, out, _ = run("stats", "--json", "--catalog-dir", CATALOGS)
    assert code == 0
    stats = json.loads(out)
    assert stats["regions"]["shenzhen"]["items"] == 302
    assert stats["regions"]["shenzhen"]["high_frequency"] == 182
    assert stats["regions"]["dongguan"]["items"] == 335
    assert set(stats["sources"]) == {"published_guide", "press", "composed"}


def test_stats_for_people_in_chinese() -> None:
    code, out, _ = run("stats", "--catalog-dir", CATALOGS)
    assert code == 0
    assert "深圳市（shenzhen）：302 项，高频 182 项" in out
    assert "样例编写（非官方）" in out


def test_search_json() -> None:
    args = ("search", "shebao", "--region", "dongguan", "--limit", "5", "--json")
    code, out, _ = run(*args, "--catalog-dir", CATALOGS)
    assert code == 0
    result = json.loads(out)
    assert result["total"] > 5
    assert len(result["items"]) == 5
    assert all(item["competent_region"] == "dongguan" for item in result["items"])


def test_search_for_people() -> None:
    code, out, _ = run("search", "sfz", "--high-frequency", "--catalog-dir", CATALOGS)
    assert code == 0
    assert "居民身份证换领 [高频]" in out
    code, out, _ = run("search", "不存在的事项", "--catalog-dir", CATALOGS)
    assert code == 0
    assert "没有找到" in out


def test_search_refuses_an_unknown_region() -> None:
    code, _, err = run("search", "sfz", "--region", "atlantis", "--catalog-dir", CATALOGS)
    assert code == 2
    assert "--region" in err


def test_show_json_and_text() -> None:
    code, out, _ = run("show", "SZ-P-0002", "--json", "--catalog-dir", CATALOGS)
    assert code == 0
    assert json.loads(out)["task_name"] == "社会保障卡申领"
    code, out, _ = run("show", "SZ-P-0002", "--catalog-dir", CATALOGS)
    assert "同事同标：DG-P-0002" in out
    assert "来源：公开报道" in out


def test_show_unknown_code_fails() -> None:
    code, _, err = run("show", "NOPE", "--catalog-dir", CATALOGS)
    assert code == 1
    assert "NOPE" in err


def test_check_passes_on_the_real_catalogue() -> None:
    code, out, _ = run("check", "--catalog-dir", CATALOGS)
    assert code == 0
    assert "共 717 项" in out


def broken_copy(tmp_path: Path, **replacements: tuple[str, str]) -> Path:
    directory = tmp_path / "catalogs"
    shutil.copytree(CATALOGS, directory)
    for region, (old, new) in replacements.items():
        path = directory / f"{region}.yaml"
        path.write_text(path.read_text("utf-8").replace(old, new, 1), "utf-8")
    return directory


def test_check_fails_and_prints_every_problem(tmp_path: Path) -> None:
    directory = broken_copy(
        tmp_path,
        shenzhen=("task_type: licence", "task_type: permit"),
        dongguan=("promise_day: 15", "promise_day: -1"),
    )
    code, _, err = run("check", "--catalog-dir", str(directory))
    assert code == 1
    assert "shenzhen.yaml:7: item 11440300MB2D0970524440125044001 field task_type" in err
    assert "dongguan.yaml" in err
    assert "field promise_day" in err
    assert "目录有 2 个问题" in err


def test_check_fails_on_a_duplicate_code(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path, dongguan=("code: DG-C-0005", "code: SZ-C-0005"))
    code, _, err = run("check", "--catalog-dir", str(directory))
    assert code == 1
    assert "item SZ-C-0005: duplicate code" in err


def test_check_reads_the_directory_from_the_settings(tmp_path: Path) -> None:
    config = tmp_path / "tongban.toml"
    config.write_text(f'[catalog]\ndirectory = "{tmp_path / "missing"}"\n', encoding="utf-8")
    code, _, err = run("check", "--config", str(config))
    assert code == 1
    assert "regions.toml" in err


def test_import_writes_and_rejects(tmp_path: Path) -> None:
    directory = tmp_path / "catalogs"
    shutil.copytree(CATALOGS, directory)
    out = tmp_path / "zjg.yaml"
    args = ["import", str(EXAMPLES / "items.csv"), "--region", "zhangjiagang"]
    args += ["--materials", str(EXAMPLES / "materials.csv"), "--catalog-dir", str(directory)]
    code, stdout, _ = run(*args, "--out", str(out))
    assert code == 0
    assert "已导入 3 项" in stdout
    assert out.exists()

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "task_code,task_name,task_type,dept_name,handling_modes\n"
        "T-1,失业登记,20,某部门,全程网办\n"
        "T-2,婚姻登记,42,某部门,全程网办\n",
        encoding="utf-8",
    )
    target = directory / "zhangjiagang.yaml"
    before = target.read_bytes()
    code, _, err = run(
        "import", str(bad), "--region", "zhangjiagang", "--catalog-dir", str(directory)
    )
    assert code == 1
    assert "bad.csv 第 3 行 列 task_type" in err
    assert "未写入" in err
    assert target.read_bytes() == before


NO_CATALOG_ENV: dict[str, str | None] = {"TONGBAN_CATALOG__DIRECTORY": None}


def test_stats_says_the_packaged_catalogue_is_in_use_by_default() -> None:
    result = CliRunner().invoke(main, ["catalog", "stats"], env=NO_CATALOG_ENV)
    assert result.exit_code == 0, result.output
    first_line = result.stdout.splitlines()[0]
    assert first_line == f"目录来源：随网关附带的样例目录（{packaged_catalog_dir()}）"
    result = CliRunner().invoke(main, ["catalog", "stats", "--json"], env=NO_CATALOG_ENV)
    source = json.loads(result.stdout)["source"]
    assert source == {"directory": str(packaged_catalog_dir()), "chosen_by": "packaged"}


def test_stats_names_a_configured_or_given_directory(tmp_path: Path) -> None:
    directory = tmp_path / "own"
    shutil.copytree(CATALOGS, directory)
    config = tmp_path / "tongban.toml"
    config.write_text(f'[catalog]\ndirectory = "{directory}"\n', encoding="utf-8")
    result = CliRunner().invoke(
        main, ["catalog", "stats", "--config", str(config)], env=NO_CATALOG_ENV
    )
    assert result.stdout.splitlines()[0] == f"目录来源：{directory}（catalog.directory）"
    code, out, _ = run("stats", "--json", "--config", str(config), "--catalog-dir", CATALOGS)
    assert code == 0
    assert json.loads(out)["source"] == {"directory": CATALOGS, "chosen_by": "--catalog-dir"}


def test_import_refuses_to_write_into_the_packaged_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed, the packaged catalogue is inside site-packages: an upgrade would undo it."""
    # A copy stands in for the packaged directory, so a regression writes there, not
    # into the repository's catalogs/.
    packaged = tmp_path / "packaged"
    shutil.copytree(CATALOGS, packaged)
    monkeypatch.setattr(gateway.config.store, "packaged_catalog_dir", lambda: packaged)
    before = {path.name: path.read_bytes() for path in packaged.iterdir() if path.is_file()}
    args = ["catalog", "import", str(EXAMPLES / "items.csv"), "--region", "zhangjiagang"]
    args += ["--materials", str(EXAMPLES / "materials.csv")]
    result = CliRunner().invoke(main, args, env=NO_CATALOG_ENV)
    assert result.exit_code == 1
    assert "随网关附带的样例目录不可写入" in result.stderr
    assert {path.name: path.read_bytes() for path in packaged.iterdir() if path.is_file()} == before
    dry_run = CliRunner().invoke(main, [*args, "--dry-run"], env=NO_CATALOG_ENV)
    assert dry_run.exit_code == 0, dry_run.output
    assert "校验通过：3 项" in dry_run.stdout
