"""Read the catalogue files: ``regions.toml`` and one ``<region>.yaml`` per region.

Every problem in every file is collected before failing, each named by file, line,
item code and field, so one start-up shows the whole list to fix. Files are
trusted data under review, but are still parsed with the safe loader.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import ValidationError

from gateway.catalog.catalog import Catalog
from gateway.catalog.models import Item, Region
from gateway.errors import CatalogError, CatalogProblem

REGIONS_FILE = "regions.toml"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineMap(dict[str, Any]):
    """A YAML mapping that remembers the line it started on."""

    line: int = 0


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, recording each mapping's line (1-based)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineMap:
    # YAML keys may be any scalar; pydantic reports non-string field names later.
    mapping = _LineMap(cast("dict[str, Any]", loader.construct_mapping(node, deep=True)))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_catalog(directory: Path) -> Catalog:
    """Load and check the catalogue in `directory`; raise `CatalogError` listing every problem."""
    regions, problems = _load_regions(directory / REGIONS_FILE)
    items: list[Item] = []
    origin: dict[str, str] = {}
    for region in regions:
        path = directory / f"{region.key}.yaml"
        loaded, found = load_items_file(path, expected_region=region.key)
        problems += found
        for item, line in loaded:
            items.append(item)
            origin.setdefault(item.code, f"{path.name}:{line}")
    if problems:
        raise CatalogError(problems)
    catalog = Catalog(regions, items, origin=origin)
    # Built here, at load (in the start-up thread), so no request pays for it;
    # the etag too, for the same reason.
    _ = catalog.search_index, catalog.etag
    return catalog


def _load_regions(path: Path) -> tuple[list[Region], list[CatalogProblem]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], [CatalogProblem(str(path), f"cannot read: {exc.strerror}")]
    except tomllib.TOMLDecodeError as exc:
        return [], [CatalogProblem(path.name, f"TOML syntax: {exc}")]
    regions, problems = [], []
    for key, table in data.items():
        if not isinstance(table, dict):
            problems.append(CatalogProblem(path.name, "expected a [region] table", item=key))
            continue
        try:
            regions.append(Region.model_validate({"key": key, **table}))
        except ValidationError as exc:
            problems += _problems(path.name, None, key, exc)
    return regions, problems


def load_items_file(
    path: Path, expected_region: str | None = None
) -> tuple[list[tuple[Item, int]], list[CatalogProblem]]:
    """Parse one region file into (item, line) pairs and the problems found."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - _LineLoader is SafeLoader-based
    except OSError as exc:
        return [], [CatalogProblem(path.name, f"cannot read: {exc.strerror}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return [], [CatalogProblem(path.name, f"YAML syntax: {exc}", line=line)]
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return [], [CatalogProblem(path.name, "expected a mapping with an 'items' list")]
    loaded, problems = [], []
    for index, raw in enumerate(document["items"]):
        line = getattr(raw, "line", None)
        label = raw.get("code") if isinstance(raw, dict) else None
        item_name = str(label) if label else f"#{index + 1}"
        if not isinstance(raw, dict):
            problems.append(
                CatalogProblem(path.name, "expected a mapping", line=line, item=item_name)
            )
            continue
        try:
            item = Item.model_validate(raw)
        except ValidationError as exc:
            problems += _problems(path.name, line, item_name, exc, raw)
            continue
        if expected_region is not None and item.competent_region != expected_region:
            problems.append(
                CatalogProblem(
                    path.name,
                    f"is in {path.name} but its competent_region is {item.competent_region!r}",
                    line=line,
                    item=item.code,
                    field="competent_region",
                )
            )
            continue
        loaded.append((item, line or 0))
    return loaded, problems


def _problems(
    file: str, line: int | None, item: str, error: ValidationError, raw: Any = None
) -> list[CatalogProblem]:
    found = []
    for detail in error.errors():
        loc = detail["loc"]
        found.append(
            CatalogProblem(
                file,
                detail["msg"],
                line=_line_of(raw, loc) or line,
                item=item,
                field=".".join(str(part) for part in loc) or None,
            )
        )
    return found


def _line_of(raw: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest mapping on the path `loc`, where the file recorded one."""
    line = getattr(raw, "line", None)
    node = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", line)
    return line
