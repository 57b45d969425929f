"""``tongban catalog``: counts, search, one item, lint and import the catalogue.

Every command reads the catalogue directory from ``--catalog-dir``, else the
settings (``--config``, ``TONGBAN_CATALOG__DIRECTORY``), else the sample catalogue
shipped inside the package; ``stats`` says which. Output is Chinese for people and,
with ``--json``, one JSON document for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from gateway.catalog.catalog import Catalog
from gateway.catalog.importer import import_items
from gateway.catalog.loader import load_catalog
from gateway.catalog.models import HandlingMode, Item, TaskType
from gateway.catalog.search import summary
from gateway.config import load_settings
from gateway.errors import CatalogError, TongbanError

F = TypeVar("F", bound=Callable[..., Any])

SOURCE_LABELS = {
    "published_guide": "已公开办事指南",
    "press": "公开报道",
    "composed": "样例编写（非官方）",
    "import": "官方导出导入",
}

CHANNEL_LABELS = {
    "window": "窗口",
    "self_service": "自助终端",
    "online": "网上",
    "video": "视频",
    "mail": "邮寄",
}


def _location(function: F) -> F:
    function = click.option(
        "--catalog-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Catalogue directory (default: catalog.directory from the settings, "
        "else the sample catalogue shipped with the gateway).",
    )(function)
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML settings file (see deploy/tongban.example.toml).",
    )(function)


@dataclass(frozen=True)
class CatalogSource:
    """The catalogue directory in use, and what chose it."""

    directory: Path
    chosen_by: Literal["--catalog-dir", "catalog.directory", "packaged"]

    def describe(self) -> str:
        if self.chosen_by == "packaged":
            return f"随网关附带的样例目录（{self.directory}）"
        return f"{self.directory}（{self.chosen_by}）"

    def as_json(self) -> dict[str, str]:
        return {"directory": str(self.directory), "chosen_by": self.chosen_by}


def _source(config: Path | None, catalog_dir: Path | None) -> CatalogSource:
    if catalog_dir is not None:
        return CatalogSource(catalog_dir, "--catalog-dir")
    try:
        settings = load_settings(config).catalog
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if settings.directory is not None:
        return CatalogSource(settings.directory, "catalog.directory")
    return CatalogSource(settings.location, "packaged")


def _load(directory: Path) -> Catalog:
    try:
        return load_catalog(directory)
    except CatalogError as exc:
        raise click.ClickException(f"{exc}\n(`tongban catalog check` lists every problem)") from exc


def _echo_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@click.group()
def catalog() -> None:
    """The unified service catalogue (统一事项目录)."""


@catalog.command()
@_location
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(config: Path | None, catalog_dir: Path | None, as_json: bool) -> None:
    """Counts per region: items, high-frequency, handling modes, sources; and where from."""
    source = _source(config, catalog_dir)
    figures = _load(source.directory).stats()
    if as_json:
        _echo_json({**figures, "source": source.as_json()})
        return
    click.echo(f"目录来源：{source.describe()}")
    click.echo(f"目录共 {figures['items']} 项事项")
    for key, region in figures["regions"].items():
        modes = "，".join(
            f"{HandlingMode(mode).label_zh} {count}" for mode, count in region["modes"].items()
        )
        sources = "，".join(
            f"{SOURCE_LABELS[kind]} {count}" for kind, count in region["sources"].items()
        )
        counts = f"{region['items']} 项，高频 {region['high_frequency']} 项"
        click.echo(f"{region['name_zh']}（{key}）：{counts}")
        click.echo(f"  办理方式：{modes or '无'}")
        click.echo(f"  来源：{sources or '无'}")


@catalog.command()
@click.argument("query", default="")
@_location
@click.option("--region", help="Only items of this competent region (shenzhen, dongguan...).")
@click.option("--department", help="Only items whose department name contains this.")
@click.option("--mode", type=click.Choice([m.value for m in HandlingMode]), help="Handling mode.")
@click.option("--type", "task_type", type=click.Choice([t.value for t in TaskType]), help="Type.")
@click.option("--high-frequency", is_flag=True, help="Only high-frequency items.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(
    query: str,
    config: Path | None,
    catalog_dir: Path | None,
    region: str | None,
    department: str | None,
    mode: str | None,
    task_type: str | None,
    high_frequency: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Find items by name (汉字), pinyin (shebao), initials (sfz), code or department."""
    loaded = _load(_source(config, catalog_dir).directory)
    if region is not None and region not in loaded.regions:
        raise click.BadParameter(f"known: {', '.join(loaded.regions)}", param_hint="--region")
    hits = loaded.search_index.search(
        query,
        region=region,
        department=department,
        mode=HandlingMode(mode) if mode else None,
        task_type=TaskType(task_type) if task_type else None,
        high_frequency=True if high_frequency else None,
    )
    if as_json:
        _echo_json({"total": len(hits), "items": [summary(hit.item) for hit in hits[:limit]]})
        return
    if not hits:
        click.echo("没有找到匹配的事项")
        return
    click.echo(f"找到 {len(hits)} 项" + (f"，显示前 {limit} 项" if len(hits) > limit else ""))
    for hit in hits[:limit]:
        item = hit.item
        region_name = loaded.regions[item.competent_region].name_zh
        flag = " [高频]" if item.high_frequency else ""
        modes = "、".join(mode.label_zh for mode in item.handling_modes)
        click.echo(f"{item.code}  {item.task_name}{flag}")
        click.echo(f"    {region_name} · {item.dept_name} · {modes}")


@catalog.command()
@click.argument("code")
@_location
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(code: str, config: Path | None, catalog_dir: Path | None, as_json: bool) -> None:
    """Everything about one item."""
    loaded = _load(_source(config, catalog_dir).directory)
    item = loaded.get(code)
    if item is None:
        raise click.ClickException(f"目录中没有编码为 {code} 的事项")
    if as_json:
        _echo_json(item.model_dump(mode="json"))
        return
    for line in _describe(item, loaded):
        click.echo(line)


def _describe(item: Item, loaded: Catalog) -> list[str]:
    def days(value: int | None, unit: str) -> str:
        return (
            "未规定"
            if value is None
            else f"{value} 个{'工作日' if unit == 'working_day' else '自然日'}"
        )

    lines = [
        f"{item.task_name}（{item.code}）",
        f"  业务属地：{loaded.regions[item.competent_region].name_zh}",
        f"  实施主体：{item.dept_name}" + (f"（{item.dept_code}）" if item.dept_code else ""),
        f"  事项类型：{item.task_type.label_zh}（{item.task_type.code}）",
        f"  实施编码：{item.task_code or '无'}    基本编码：{item.catalog_code or '无'}",
        f"  办理方式：{'、'.join(mode.label_zh for mode in item.handling_modes)}",
        f"  受理渠道：{'、'.join(CHANNEL_LABELS[channel.value] for channel in item.channels)}",
        f"  法定时限：{days(item.anticipate_day, item.anticipate_type)}"
        f"    承诺时限：{days(item.promise_day, item.promise_type)}",
        f"  收费：{'是' if item.is_fee else '否'}"
        + (f"（{item.fee_basis}）" if item.fee_basis else ""),
        f"  高频事项：{'是' if item.high_frequency else '否'}",
        f"  通办清单：{'、'.join(name.label_zh for name in item.tongban_lists) or '无'}",
        f"  同事同标：{'、'.join(item.counterparts) or '无'}",
        f"  申请材料（{len(item.materials)} 项）：",
    ]
    for material in item.materials:
        marks = ["必要" if material.is_need else "非必要", f"信任等级 {material.trust_level.value}"]
        if material.deferrable:
            marks.append("可容缺")
        lines.append(f"    - {material.material_name}（{'，'.join(marks)}）")
    lines.append(f"  来源：{SOURCE_LABELS[item.source.kind]}")
    if item.source.reference:
        lines.append(f"    {item.source.reference}")
    if item.source.note:
        lines.append(f"    {item.source.note}")
    return lines


@catalog.command("check")
@_location
def check_command(config: Path | None, catalog_dir: Path | None) -> None:
    """Load and check the catalogue; print every problem and exit 1 if there is any."""
    directory = _source(config, catalog_dir).directory
    try:
        loaded = load_catalog(directory)
    except CatalogError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.secho(f"目录有 {len(exc.problems)} 个问题（{directory}）", fg="red", err=True)
        raise SystemExit(1) from exc
    per_region = "，".join(
        f"{region.name_zh} {len(loaded.in_region(key))} 项"
        for key, region in loaded.regions.items()
    )
    click.echo(f"目录检查通过：共 {len(loaded.items)} 项（{per_region}）")


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", required=True, help="The competent region of every row.")
@click.option(
    "--materials",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Materials file (CSV/XLSX), one row per material, keyed by task_code.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: <catalog-dir>/<region>.yaml).",
)
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@_location
def import_command(
    file: Path,
    region: str,
    materials: Path | None,
    out: Path | None,
    dry_run: bool,
    config: Path | None,
    catalog_dir: Path | None,
) -> None:
    """Import a region's items from an exchange-schema CSV or XLSX export.

    Every row is checked; if any has a problem, each is printed with its row
    number and column and nothing is written (exit 1).
    """
    source = _source(config, catalog_dir)
    if source.chosen_by == "packaged" and out is None and not dry_run:
        # It lives inside the installed package: an upgrade would silently undo the import.
        raise click.ClickException(
            "随网关附带的样例目录不可写入：请用 --catalog-dir 或设置 catalog.directory "
            "指向自己的目录（可先复制样例目录），或用 --out 指定输出文件"
        )
    current = _load(source.directory)
    report = import_items(
        file,
        region=region,
        catalog=current,
        out=out or source.directory / f"{region}.yaml",
        materials_file=materials,
        dry_run=dry_run,
    )
    if report.ignored_columns:
        click.echo(f"忽略的列：{', '.join(report.ignored_columns)}")
    if report.warnings:
        click.echo(f"注意：导入后其他地区有 {len(report.warnings)} 处引用将失效，例如：")
        for warning in report.warnings[:5]:
            click.echo(f"  {warning}")
    if not report.ok:
        for problem in report.problems:
            click.echo(_row_message(problem), err=True)
        click.secho(f"导入失败：{len(report.problems)} 个问题，未写入任何文件", fg="red", err=True)
        raise SystemExit(1)
    if report.written is None:
        click.echo(f"校验通过：{len(report.items)} 项（--dry-run，未写入）")
    else:
        click.echo(f"已导入 {len(report.items)} 项，写入 {report.written}")


def _row_message(problem: Any) -> str:
    where = f"{problem.file} 第 {problem.line} 行" if problem.line else problem.file
    column = f" 列 {problem.field}" if problem.field else ""
    item = f"（事项 {problem.item}）" if problem.item else ""
    return f"{where}{column}{item}：{problem.message}"
