"""The committed catalogue data: counts as published, and honest about its sources."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.catalog.catalog import Catalog
from gateway.catalog.loader import load_catalog
from gateway.errors import CatalogError

REPO = Path(__file__).resolve().parents[2]
CATALOGS = REPO / "catalogs"

# What official codes look like: an 18-character credit code, a 12-digit basic code,
# a long digit run. Composed codes must look like none of them.
OFFICIAL_LOOKING = re.compile(r"\d{8,}|^[0-9A-HJ-NPQRTUWXY]{18}")
COMPOSED_CODE = re.compile(r"^(SZ|DG|ZJG)-C-\d{4}$")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOGS)


def test_region_counts_are_the_published_list_sizes(catalog: Catalog) -> None:
    assert len(catalog.in_region("shenzhen")) == 302
    assert len(catalog.in_region("dongguan")) == 335
    assert len(catalog.in_region("zhangjiagang")) >= 60


def test_shenzhen_has_182_high_frequency_items(catalog: Catalog) -> None:
    assert sum(item.high_frequency for item in catalog.in_region("shenzhen")) == 182


def test_composed_entries_carry_no_official_looking_code(catalog: Catalog) -> None:
    composed = [item for item in catalog.items if item.source.kind == "composed"]
    assert len(composed) > 600
    for item in composed:
        assert COMPOSED_CODE.match(item.code), item.code
        assert item.task_code is None, item.code
        assert item.catalog_code is None, item.code
        assert item.dept_code is None, item.code
        assert not OFFICIAL_LOOKING.search(item.code), item.code
        assert item.source.note
        assert "not an official item" in item.source.note


def test_published_and_press_entries_name_their_source(catalog: Catalog) -> None:
    sourced = [i for i in catalog.items if i.source.kind in ("published_guide", "press")]
    assert {i.source.kind for i in sourced} == {"published_guide", "press"}
    for item in sourced:
        assert item.source.reference, item.code
    for item in sourced:
        if item.source.kind == "press":
            assert "http" in (item.source.reference or ""), item.code
            assert "composed" in (item.source.note or ""), item.code


def test_published_guides_keep_their_real_codes(catalog: Catalog) -> None:
    item = catalog.get("11440300MB2D0970524440125044001")
    assert item is not None
    assert item.source.kind == "published_guide"
    assert item.task_name == "个体工商户设立登记"
    assert item.dept_code == "11440300MB2D097052"
    assert item.catalog_code == "440125044001"
    assert (item.anticipate_day, item.promise_day) == (20, 1)


@pytest.mark.parametrize("name", ["企业开办", "社会保障卡申领"])
def test_same_standard_items_exist_in_both_cities_and_name_each_other(
    catalog: Catalog, name: str
) -> None:
    (shenzhen,) = [i for i in catalog.in_region("shenzhen") if i.task_name == name]
    (dongguan,) = [i for i in catalog.in_region("dongguan") if i.task_name == name]
    assert dongguan.code in shenzhen.counterparts
    assert shenzhen.code in dongguan.counterparts
    assert shenzhen.source.kind == dongguan.source.kind == "press"


def test_counterparts_are_symmetric(catalog: Catalog) -> None:
    for item in catalog.items:
        for code in item.counterparts:
            other = catalog.get(code)
            assert other is not None, (item.code, code)
            assert item.code in other.counterparts, (item.code, code)


def test_every_item_is_on_a_tongban_list(catalog: Catalog) -> None:
    for item in catalog.items:
        expected = "kstb" if item.competent_region == "zhangjiagang" else "shenguan"
        assert expected in item.tongban_lists, item.code


def test_some_materials_may_be_supplied_later(catalog: Catalog) -> None:
    deferrable = [m for i in catalog.items for m in i.materials if m.deferrable]
    assert deferrable
    assert {m.trust_level.value for i in catalog.items for m in i.materials} == set("ABCD")


@pytest.mark.skipif(
    not (REPO.parent / "shared" / "reference").is_dir(), reason="needs ../shared/reference"
)
def test_committed_yaml_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "compose_sample_catalog.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_composed_entry_with_an_official_code_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "regions.toml").write_text(
        '[dongguan]\nname_zh = "东莞市"\ndivision_code = "441900"\n'
        'adapter = "dongguan"\ncalendar = "cn-mainland"\n',
        encoding="utf-8",
    )
    (tmp_path / "dongguan.yaml").write_text(
        textwrap.dedent(
            """
            items:
              - code: DG-C-0001
                task_name: 社会保障卡申领
                competent_region: dongguan
                task_code: "11441900MB0000000X441900000001"
                task_type: public_service
                dept_name: 东莞市社会保障局
                handling_modes: [proxy]
                channels: [window]
                source: {kind: composed}
              - code: DG-P-0001
                task_name: 企业开办
                competent_region: dongguan
                task_type: licence
                dept_name: 东莞市市场监督管理局
                handling_modes: [full_online]
                channels: [online]
                source: {kind: press}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    problems = [str(problem) for problem in caught.value.problems]
    assert any("DG-C-0001 field task_code" in p and "official code" in p for p in problems)
    assert any("DG-P-0001 field source.reference" in p for p in problems)
