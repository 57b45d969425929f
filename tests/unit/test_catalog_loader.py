"""Loading the catalogue: a good set of files, and each kind of broken file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support.at_rest import TEST_PASSPHRASE

from gateway.catalog.loader import load_catalog
from gateway.catalog.models import HandlingMode, TaskType
from gateway.errors import CatalogError

REGIONS = """
[shenzhen]
name_zh = "深圳市"
division_code = "440300"
adapter = "shenzhen"
calendar = "cn-mainland"

[dongguan]
name_zh = "东莞市"
division_code = "441900"
adapter = "dongguan"
calendar = "cn-mainland"
"""

SHENZHEN = """
items:
  - code: SZ-0001
    task_name: 社会保障卡申领
    competent_region: shenzhen
    task_type: public_service
    dept_name: 深圳市社会保险基金管理局
    handling_modes: [full_online, proxy]
    channels: [window, online]
    high_frequency: true
    counterparts: [DG-0001]
    materials:
      - id: id_card
        material_name: 居民身份证
        trust_level: B
      - id: photo
        material_name: 近期免冠照片
        deferrable: true
    source: {kind: composed}
"""

DONGGUAN = """
items:
  - code: DG-0001
    task_name: 社会保障卡申领
    competent_region: dongguan
    task_type: public_service
    dept_name: 东莞市社会保障局
    handling_modes: [proxy]
    channels: [window]
    counterparts: [SZ-0001]
    source: {kind: composed}
"""


def write_catalog(directory: Path, **files: str) -> Path:
    contents = {"regions.toml": REGIONS, "shenzhen.yaml": SHENZHEN, "dongguan.yaml": DONGGUAN}
    contents.update({name.replace("_yaml", ".yaml"): text for name, text in files.items()})
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    return [str(problem) for problem in caught.value.problems]


def test_good_catalogue_loads_into_frozen_models(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path))
    item = catalog.get("SZ-0001")
    assert item is not None
    assert item.task_type is TaskType.PUBLIC_SERVICE
    assert item.handling_modes == (HandlingMode.FULL_ONLINE, HandlingMode.PROXY)
    assert [m.id for m in item.materials if m.deferrable] == ["photo"]
    assert catalog.region("dongguan") is not None
    assert len(catalog.in_region("shenzhen")) == 1
    with pytest.raises(ValueError, match="frozen"):
        item.task_name = "x"  # type: ignore[misc]


def test_stats_count_items_per_region(tmp_path: Path) -> None:
    stats = load_catalog(write_catalog(tmp_path)).stats()
    assert stats["items"] == 2
    assert stats["regions"]["shenzhen"]["high_frequency"] == 1
    assert stats["regions"]["shenzhen"]["modes"] == {"full_online": 1, "proxy": 1}
    assert stats["sources"] == {"composed": 2}


def test_etag_changes_with_content(tmp_path: Path) -> None:
    first = load_catalog(write_catalog(tmp_path / "a")).etag
    assert load_catalog(write_catalog(tmp_path / "b")).etag == first
    changed = write_catalog(tmp_path / "c", dongguan_yaml=DONGGUAN.replace("东莞市社会保障局", "x"))
    assert load_catalog(changed).etag != first


def test_bad_field_value_names_file_line_item_and_field(tmp_path: Path) -> None:
    broken = SHENZHEN.replace("trust_level: B", "trust_level: Z")
    problems = problems_of(write_catalog(tmp_path, shenzhen_yaml=broken))
    assert len(problems) == 1
    assert problems[0].startswith("shenzhen.yaml:13: item SZ-0001 field materials.0.trust_level")


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    broken = SHENZHEN.replace("high_frequency: true", "high_frequncy: true")
    (problem,) = problems_of(write_catalog(tmp_path, shenzhen_yaml=broken))
    assert "field high_frequncy" in problem
    assert "Extra inputs are not permitted" in problem


def test_missing_required_field(tmp_path: Path) -> None:
    broken = DONGGUAN.replace("    dept_name: 东莞市社会保障局\n", "")
    (problem,) = problems_of(write_catalog(tmp_path, dongguan_yaml=broken))
    assert "dongguan.yaml" in problem
    assert "item DG-0001 field dept_name: Field required" in problem


def test_duplicate_code(tmp_path: Path) -> None:
    broken = DONGGUAN.replace("DG-0001", "SZ-0001").replace("[SZ-0001]", "[]")
    problems = problems_of(write_catalog(tmp_path, dongguan_yaml=broken))
    assert any("item SZ-0001: duplicate code, also in shenzhen.yaml" in p for p in problems)


def test_item_in_the_wrong_region_file(tmp_path: Path) -> None:
    broken = DONGGUAN.replace("competent_region: dongguan", "competent_region: shenzhen")
    problems = problems_of(write_catalog(tmp_path, dongguan_yaml=broken))
    assert any("field competent_region" in p and "dongguan.yaml" in p for p in problems)


def test_unknown_region_in_regions_file(tmp_path: Path) -> None:
    broken = REGIONS.replace('division_code = "441900"', 'division_code = "4419"')
    problems = problems_of(write_catalog(tmp_path, **{"regions.toml": broken}))
    assert problems == [
        "regions.toml: item dongguan field division_code: String should match pattern '^\\d{6}$'"
    ]


def test_dangling_counterpart(tmp_path: Path) -> None:
    broken = DONGGUAN.replace("[SZ-0001]", "[SZ-9999]")
    (problem,) = problems_of(write_catalog(tmp_path, dongguan_yaml=broken))
    assert (
        "item DG-0001 field counterparts: counterpart 'SZ-9999' is not in the catalogue" in problem
    )


def test_repeated_material_id(tmp_path: Path) -> None:
    broken = SHENZHEN.replace("id: photo", "id: id_card")
    (problem,) = problems_of(write_catalog(tmp_path, shenzhen_yaml=broken))
    assert "material id 'id_card' repeated" in problem


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    broken = SHENZHEN.replace("channels: [window, online]", "channels: [window, online")
    (problem,) = problems_of(write_catalog(tmp_path, shenzhen_yaml=broken))
    assert problem.startswith("shenzhen.yaml:")
    assert "YAML syntax" in problem


def test_missing_region_file(tmp_path: Path) -> None:
    directory = write_catalog(tmp_path)
    (directory / "dongguan.yaml").unlink()
    (problem,) = problems_of(directory)
    assert "dongguan.yaml" in problem
    assert "cannot read" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    broken_sz = SHENZHEN.replace("trust_level: B", "trust_level: Z")
    broken_dg = DONGGUAN.replace("task_type: public_service", "task_type: magic")
    problems = problems_of(
        write_catalog(tmp_path, shenzhen_yaml=broken_sz, dongguan_yaml=broken_dg)
    )
    assert len(problems) == 2


async def test_broken_catalogue_fails_app_start(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.app import create_app
    from gateway.config import load_settings

    directory = write_catalog(tmp_path / "c", dongguan_yaml="items: [oops]")
    settings = load_settings(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "var"),
            "catalog": {"directory": str(directory)},
            "security": {"key_passphrase": TEST_PASSPHRASE},
        },
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    with pytest.raises(CatalogError, match=r"dongguan\.yaml"):
        await server.start_server()
    await server.close()
