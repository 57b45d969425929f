"""Importing an exchange-schema export: all rows valid or nothing written."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from gateway.catalog.catalog import Catalog
from gateway.catalog.importer import import_items
from gateway.catalog.loader import load_catalog

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "contracts" / "examples" / "catalog_import"
HEADER = "task_code,task_name,task_type,dept_name,handling_modes,promise_day,is_fee\n"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(REPO / "catalogs")


def write(path: Path, text: str, rows: str = "") -> Path:
    path.write_text(textwrap.dedent(text).lstrip() + textwrap.dedent(rows).lstrip(), "utf-8")
    return path


def test_example_export_is_imported_as_source_import(tmp_path: Path, catalog: Catalog) -> None:
    out = tmp_path / "zhangjiagang.yaml"
    report = import_items(
        EXAMPLES / "items.csv",
        region="zhangjiagang",
        catalog=catalog,
        out=out,
        materials_file=EXAMPLES / "materials.csv",
    )
    assert report.ok, report.problems
    assert report.written == out
    assert report.ignored_columns == ["by_law"]
    assert len(report.items) == 3
    # The written file is a catalogue file the loader accepts, as written.
    directory = tmp_path / "catalogs"
    shutil.copytree(REPO / "catalogs", directory)
    shutil.copy(out, directory / "zhangjiagang.yaml")
    for name in ("shenzhen.yaml", "dongguan.yaml"):  # their links into the old list now dangle
        path = directory / name
        lines = path.read_text("utf-8").splitlines()
        kept = [line for line in lines if not line.startswith("  counterparts:")]
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    reloaded = load_catalog(directory)
    item = reloaded.get("EXAMPLE-ZJG-0001")
    assert item is not None
    assert item.source.kind == "import"
    assert item.source.reference
    assert item.source.reference.startswith("items.csv (sha256 ")
    assert item.task_type.code == "07"
    assert [m.id for m in item.materials] == ["id_card", "photo"]
    photo = item.material("photo")
    assert photo is not None
    assert photo.deferrable
    three = reloaded.get("EXAMPLE-ZJG-0003")
    assert three is not None
    assert [m.value for m in three.handling_modes] == [
        "multi_region",
        "full_online",
    ]


def test_bad_rows_are_each_reported_and_nothing_is_written(
    tmp_path: Path, catalog: Catalog
) -> None:
    items = write(
        tmp_path / "items.csv",
        HEADER,
        """
        T-1,居民身份证换领,07,张家港市公安局,异地代收代办,15,0
        T-2,失业登记,99,张家港市人力资源和社会保障局,全程网办,5,0
        T-3,,20,张家港市社会保险基金管理中心,全程网办,5,0
        T-4,婚姻登记,07,张家港市民政局,上门办理,5,maybe
        T-1,重复编码,07,张家港市公安局,全程网办,5,0
        T-6,出生登记,07,张家港市公安局,全程网办,-3,0
        """,
    )
    out = tmp_path / "zhangjiagang.yaml"
    report = import_items(items, region="zhangjiagang", catalog=catalog, out=out)
    assert not report.ok
    assert not out.exists()
    assert report.written is None
    found = {(p.line, p.field) for p in report.problems}
    assert (3, "task_type") in found  # 99 is not a type code
    assert (4, "task_name") in found  # empty name
    assert (5, "is_fee") in found  # "maybe"
    assert (6, "code") in found  # duplicate of row 2
    assert (7, "promise_day") in found  # negative
    assert not any(p.line == 2 for p in report.problems)
    mode_problem = [p for p in report.problems if p.line == 5 and p.field == "handling_modes.0"]
    assert mode_problem, report.problems


def test_an_existing_file_is_left_untouched_when_a_row_is_bad(
    tmp_path: Path, catalog: Catalog
) -> None:
    out = write(tmp_path / "zhangjiagang.yaml", "items: []\n")
    items = write(tmp_path / "items.csv", HEADER + "T-1,失业登记,01,某部门,全程网办,five,0\n")
    report = import_items(items, region="zhangjiagang", catalog=catalog, out=out)
    assert [(p.line, p.field) for p in report.problems] == [(2, "promise_day")]
    assert out.read_text(encoding="utf-8") == "items: []\n"


def test_material_rows_are_checked_and_keyed_to_items(tmp_path: Path, catalog: Catalog) -> None:
    items = write(tmp_path / "items.csv", HEADER + "T-1,失业登记,20,某部门,全程网办,5,0\n")
    materials = write(
        tmp_path / "materials.csv",
        """
        task_code,material_name,trust_level
        T-1,居民身份证,B
        T-1,照片,E
        T-9,无主材料,C
        """,
    )
    report = import_items(
        items,
        region="zhangjiagang",
        catalog=catalog,
        out=tmp_path / "out.yaml",
        materials_file=materials,
    )
    found = {(p.file, p.line, p.field) for p in report.problems}
    assert found == {("materials.csv", 3, "trust_level"), ("materials.csv", 4, "task_code")}


def test_codes_of_other_regions_are_refused(tmp_path: Path, catalog: Catalog) -> None:
    items = write(
        tmp_path / "items.csv", HEADER + "SZ-C-0001,居民身份证换领,07,某部门,全程网办,5,0\n"
    )
    report = import_items(items, region="zhangjiagang", catalog=catalog, out=tmp_path / "o.yaml")
    assert {(p.line, p.item) for p in report.problems} == {(2, "SZ-C-0001")}
    assert "duplicate code" in report.problems[0].message


def test_missing_required_column_and_unknown_region(tmp_path: Path, catalog: Catalog) -> None:
    items = write(tmp_path / "items.csv", "task_code,task_name\nT-1,失业登记\n")
    report = import_items(items, region="zhangjiagang", catalog=catalog, out=tmp_path / "o.yaml")
    assert {p.field for p in report.problems} == {"task_type", "dept_name", "handling_modes"}
    report = import_items(items, region="atlantis", catalog=catalog, out=tmp_path / "o.yaml")
    assert "unknown region" in report.problems[0].message


def test_dry_run_validates_without_writing(tmp_path: Path, catalog: Catalog) -> None:
    out = tmp_path / "zhangjiagang.yaml"
    report = import_items(
        EXAMPLES / "items.csv", region="zhangjiagang", catalog=catalog, out=out, dry_run=True
    )
    assert report.ok
    assert len(report.items) == 3
    assert not out.exists()
