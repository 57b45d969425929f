"""Import a region's items from an official export (CSV or XLSX).

Columns use the national platform exchange-schema names, so an export maps onto
the catalogue column by column. Items (one row each)::

    task_name*, task_type* (01..20 or a type name), dept_name*, handling_modes*,
    code | task_code | local_task_code (at least one; the first given is the key),
    catalog_code, dept_code, server_type, channels, anticipate_day, anticipate_type,
    promise_day, promise_type, is_fee, fee_basis, high_frequency, counterparts,
    tongban_lists

Materials (optional second file, one row per material), keyed to their item by
``task_code`` (the item's key)::

    task_code*, material_name*, material_id, is_need, deferrable, material_format,
    trust_level, source_type, accept_stand, page_num

``channels`` defaults to ``window``. Lists (modes, channels...) are separated
by ``;`` or ``|``; booleans are 1/0, true/false or 是/否; modes may be given in
Chinese (全程网办...). Other exchange columns (by_law, accept_condition...) are
ignored and reported as such.

Every row is validated and every problem reported with its row number (as a
spreadsheet shows it: the header is row 1) and column. The region file is
written only if no row has a problem, by writing a temporary file and renaming it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from python_calamine import CalamineError, CalamineWorkbook

from gateway.catalog.catalog import Catalog, check
from gateway.catalog.models import HandlingMode, Item, Material, TaskType
from gateway.catalog.writer import dump_items, write_atomically
from gateway.errors import CatalogProblem

ITEM_COLUMNS = (
    "code",
    "task_name",
    "task_code",
    "catalog_code",
    "local_task_code",
    "task_type",
    "dept_name",
    "dept_code",
    "server_type",
    "handling_modes",
    "channels",
    "anticipate_day",
    "anticipate_type",
    "promise_day",
    "promise_type",
    "is_fee",
    "fee_basis",
    "high_frequency",
    "counterparts",
    "tongban_lists",
)
REQUIRED_ITEM_COLUMNS = ("task_name", "task_type", "dept_name", "handling_modes")
MATERIAL_COLUMNS = (
    "task_code",
    "material_id",
    "material_name",
    "is_need",
    "deferrable",
    "material_format",
    "trust_level",
    "source_type",
    "accept_stand",
    "page_num",
)
LIST_FIELDS = ("server_type", "handling_modes", "channels", "counterparts", "tongban_lists")
BOOL_FIELDS = ("is_fee", "high_frequency", "is_need", "deferrable")
MODE_LABELS = {mode.label_zh: mode.value for mode in HandlingMode}
TRUE, FALSE = {"1", "true", "yes", "是", "y"}, {"0", "false", "no", "否", "n"}

Row = tuple[int, dict[str, str]]


@dataclass
class ImportReport:
    """What an import found: the items, every problem, and what it wrote."""

    items: list[Item] = field(default_factory=list)
    problems: list[CatalogProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[CatalogProblem] = field(default_factory=list)
    """Problems the import would cause elsewhere (another region's dangling counterpart)."""
    written: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def import_items(
    items_file: Path,
    *,
    region: str,
    catalog: Catalog,
    out: Path,
    materials_file: Path | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Read `items_file` (and `materials_file`) as `region`'s items and write them to `out`.

    `catalog` is the current catalogue: the region must be in it, and imported
    codes and counterparts are checked against the other regions' items. Nothing
    is written if any problem is found, or with `dry_run`.
    """
    report = ImportReport()
    if region not in catalog.regions:
        known = ", ".join(catalog.regions)
        report.problems.append(
            CatalogProblem(items_file.name, f"unknown region {region!r} ({known})")
        )
        return report
    item_rows = _read_table(items_file, report)
    material_rows = _read_table(materials_file, report) if materials_file else []
    if report.problems:
        return report
    header = set().union(*(row.keys() for _, row in item_rows)) if item_rows else set()
    report.ignored_columns = sorted(header - set(ITEM_COLUMNS))
    for column in REQUIRED_ITEM_COLUMNS:
        if item_rows and column not in header:
            report.problems.append(
                CatalogProblem(items_file.name, "required column missing", field=column)
            )
    if not item_rows:
        report.problems.append(CatalogProblem(items_file.name, "no item rows"))
    if report.problems:
        return report

    materials = _materials(material_rows, materials_file, report)
    reference = _reference(items_file)
    rows_of: dict[str, int] = {}
    for number, row in item_rows:
        item = _item(row, number, region, reference, items_file.name, report, materials)
        if item is None:
            continue
        if item.code in rows_of:
            report.problems.append(
                CatalogProblem(
                    items_file.name,
                    f"duplicate code, also on row {rows_of[item.code]}",
                    line=number,
                    item=item.code,
                    field="code",
                )
            )
            continue
        rows_of[item.code] = number
        report.items.append(item)
    for key, rows in materials.items():
        if key not in rows_of and report.items:
            for number, _ in rows:
                report.problems.append(
                    CatalogProblem(
                        materials_file.name if materials_file else "",
                        f"no item row has the key {key!r}",
                        line=number,
                        field="task_code",
                    )
                )
    if not report.problems:
        _check_against(catalog, region, report, rows_of, items_file.name)
    if report.problems or dry_run:
        return report
    header_text = (
        f"Items of {region}, imported by `tongban catalog import` from {items_file.name}.\n"
        "source.kind import: read from an official export; check the export's own date."
    )
    write_atomically(out, dump_items(report.items, header_text))
    report.written = out
    return report


def _read_table(path: Path | None, report: ImportReport) -> list[Row]:
    """Rows as (spreadsheet row number, {column: text}); blank rows skipped."""
    if path is None:
        return []
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
            with CalamineWorkbook.from_path(path) as workbook:
                grid = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
            table = [[_cell(value) for value in row] for row in grid]
        else:
            # utf-8-sig: spreadsheets saving "CSV UTF-8" put a BOM first.
            with path.open(encoding="utf-8-sig", newline="") as file:
                table = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, CalamineError, csv.Error) as exc:
        report.problems.append(CatalogProblem(path.name, f"cannot read: {exc}"))
        return []
    if not table:
        return []
    names = [name.strip() for name in table[0]]
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if not any(value.strip() for value in values):
            continue
        rows.append((number, {n: v.strip() for n, v in zip(names, values, strict=False) if n}))
    return rows


def _cell(value: object) -> str:
    # Spreadsheets store 20 as 20.0; a code typed as a number must not gain ".0".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _reference(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{path.name} (sha256 {digest[:16]})"


def _materials(
    rows: list[Row], path: Path | None, report: ImportReport
) -> dict[str, list[tuple[int, Material]]]:
    found: dict[str, list[tuple[int, Material]]] = {}
    for number, row in rows:
        key = row.get("task_code", "")
        if not key:
            report.problems.append(
                CatalogProblem(
                    path.name if path else "", "required", line=number, field="task_code"
                )
            )
            continue
        data: dict[str, Any] = {c: row[c] for c in MATERIAL_COLUMNS[2:] if row.get(c, "") != ""}
        data["id"] = row.get("material_id") or f"m{len(found.get(key, [])) + 1}"
        failed = _convert(data, number, path.name if path else "", report)
        try:
            material = Material.model_validate(data)
        except ValidationError as exc:
            _report(
                exc, path.name if path else "", number, key, report, failed, {"id": "material_id"}
            )
            continue
        if not failed:
            found.setdefault(key, []).append((number, material))
    return found


def _item(
    row: Mapping[str, str],
    number: int,
    region: str,
    reference: str,
    file: str,
    report: ImportReport,
    materials: Mapping[str, list[tuple[int, Material]]],
) -> Item | None:
    data: dict[str, Any] = {c: row[c] for c in ITEM_COLUMNS if row.get(c, "") != ""}
    code = data.get("code") or data.get("task_code") or data.get("local_task_code")
    if not code:
        report.problems.append(
            CatalogProblem(
                file,
                "one of code, task_code, local_task_code is required",
                line=number,
                field="code",
            )
        )
        return None
    data["code"] = code
    failed = _convert(data, number, file, report, item=code)
    data["competent_region"] = region
    # Exports rarely say where to apply; every 通办 item can be applied for at a window.
    data.setdefault("channels", ["window"])
    data["materials"] = [material for _, material in materials.get(code, [])]
    data["source"] = {"kind": "import", "reference": reference}
    try:
        item = Item.model_validate(data)
    except ValidationError as exc:
        _report(exc, file, number, code, report, failed)
        return None
    return None if failed else item


def _convert(
    data: dict[str, Any], number: int, file: str, report: ImportReport, item: str | None = None
) -> set[str]:
    """Turn text cells into the model's types in place; the columns that could not be read."""
    failed: set[str] = set()

    def fail(column: str, message: str) -> None:
        failed.add(column)
        report.problems.append(CatalogProblem(file, message, line=number, item=item, field=column))

    for column in LIST_FIELDS:
        if column in data:
            values = [v.strip() for v in data[column].replace("|", ";").split(";") if v.strip()]
            if column == "handling_modes":
                values = [MODE_LABELS.get(v, v) for v in values]
            data[column] = values
    for column in BOOL_FIELDS:
        if column in data:
            text = data[column].lower()
            if text not in TRUE | FALSE:
                fail(column, f"{data[column]!r} is not a yes/no value (1/0, true/false, 是/否)")
            data[column] = text in TRUE
    if "task_type" in data:
        data["task_type"] = _task_type(data["task_type"], fail)
    return failed


def _task_type(value: str, fail: Callable[[str, str], None]) -> str | None:
    try:
        return (TaskType.from_code(value) if value.isdigit() else TaskType(value)).value
    except ValueError:
        fail("task_type", f"{value!r} is not a task type code (01..10, 20) or name")
        return None


def _report(
    error: ValidationError,
    file: str,
    number: int,
    item: str,
    report: ImportReport,
    already: set[str],
    renamed: Mapping[str, str] | None = None,
) -> None:
    """Report `error`, except for columns `_convert` has already reported."""
    for detail in error.errors():
        loc = detail["loc"]
        if loc and str(loc[0]) in already:
            continue
        column = ".".join(str(part) for part in loc) if loc else None
        if column is not None and renamed:
            column = renamed.get(column, column)
        report.problems.append(
            CatalogProblem(file, detail["msg"], line=number, item=item, field=column)
        )


def _check_against(
    catalog: Catalog, region: str, report: ImportReport, rows_of: Mapping[str, int], file: str
) -> None:
    """Codes unique across regions, counterparts resolvable, once the import replaces `region`."""
    others = [item for item in catalog.items if item.competent_region != region]
    origin = {code: f"{file}:{row}" for code, row in rows_of.items()}
    for problem in check(catalog.regions, [*others, *report.items], origin):
        if problem.item is not None and problem.item in rows_of:
            line = rows_of[problem.item]
            report.problems.append(
                CatalogProblem(
                    file, problem.message, line=line, item=problem.item, field=problem.field
                )
            )
        else:  # another region's item would break: `catalog check` will say so until fixed
            report.warnings.append(problem)
