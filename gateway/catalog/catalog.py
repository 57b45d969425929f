"""The loaded catalogue: regions and items, indexed, checked as a whole.

A `Catalog` is immutable once built and guarantees its invariants: codes are
unique, every item's region is known, every counterpart code resolves. Build one
with `load_catalog` (from files) or directly (tests, imports).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Any

from gateway.catalog.models import Item, Region
from gateway.catalog.search import SearchIndex
from gateway.errors import CatalogError, CatalogProblem


class Catalog:
    """Regions and items, with lookups by code and region."""

    def __init__(
        self,
        regions: Iterable[Region],
        items: Iterable[Item],
        *,
        origin: Mapping[str, str] | None = None,
    ) -> None:
        """Index `regions` and `items`; raise `CatalogError` listing every problem.

        `origin` maps an item code to the file (and line) it came from, so
        problems found here still point at the file.
        """
        self._regions = MappingProxyType({region.key: region for region in regions})
        self._items = tuple(items)
        where = origin or {}
        problems = check(self._regions, self._items, where)
        if problems:
            raise CatalogError(problems)
        self._by_code = MappingProxyType({item.code: item for item in self._items})

    @property
    def regions(self) -> Mapping[str, Region]:
        return self._regions

    @property
    def items(self) -> tuple[Item, ...]:
        return self._items

    def get(self, code: str) -> Item | None:
        """The item with `code`, or None."""
        return self._by_code.get(code)

    def region(self, key: str) -> Region | None:
        """The region called `key`, or None."""
        return self._regions.get(key)

    def in_region(self, key: str) -> tuple[Item, ...]:
        """The items whose competent region is `key`."""
        return tuple(item for item in self._items if item.competent_region == key)

    @cached_property
    def search_index(self) -> SearchIndex:
        """The search index over every item, built on first use (the loader builds it)."""
        return SearchIndex(self._items)

    @cached_property
    def etag(self) -> str:
        """A strong validator for the whole catalogue's content (HTTP ETag)."""
        digest = hashlib.sha256()
        for region in self._regions.values():
            digest.update(region.model_dump_json().encode())
        for item in self._items:
            digest.update(item.model_dump_json().encode())
        return digest.hexdigest()[:32]

    def stats(self) -> dict[str, Any]:
        """Counts per region, high-frequency items, handling modes and sources."""
        per_region: dict[str, dict[str, Any]] = {}
        for key, region in self._regions.items():
            items = self.in_region(key)
            per_region[key] = {
                "name_zh": region.name_zh,
                "items": len(items),
                "high_frequency": sum(item.high_frequency for item in items),
                "modes": dict(Counter(mode.value for i in items for mode in i.handling_modes)),
                "sources": dict(Counter(item.source.kind for item in items)),
            }
        return {
            "items": len(self._items),
            "regions": per_region,
            "sources": dict(Counter(item.source.kind for item in self._items)),
        }


OFFICIAL_CODE_FIELDS = ("task_code", "catalog_code")


def _honesty(item: Item, file: str) -> list[CatalogProblem]:
    """A composed entry claims no official code; a sourced entry names its source."""
    problems = []
    if item.source.kind == "composed":
        for field in OFFICIAL_CODE_FIELDS:
            if getattr(item, field):
                problems.append(
                    CatalogProblem(
                        file,
                        "a composed entry must not carry an official code",
                        item=item.code,
                        field=field,
                    )
                )
    elif item.source.kind in ("published_guide", "press") and not item.source.reference:
        problems.append(
            CatalogProblem(
                file,
                f"a {item.source.kind} entry must name its source",
                item=item.code,
                field="source.reference",
            )
        )
    return problems


def check(
    regions: Mapping[str, Region], items: Iterable[Item], origin: Mapping[str, str]
) -> list[CatalogProblem]:
    """Every whole-catalogue problem.

    Duplicate codes, unknown regions, repeated material ids, dangling counterparts,
    and honesty: a composed entry with an official code, or a published/press entry
    without a reference.
    """
    problems: list[CatalogProblem] = []
    items = tuple(items)
    seen: dict[str, str] = {}
    for item in items:
        file = origin.get(item.code, "(catalogue)")
        if item.code in seen:
            problems.append(
                CatalogProblem(file, f"duplicate code, also in {seen[item.code]}", item=item.code)
            )
        else:
            seen[item.code] = file
        if item.competent_region not in regions:
            problems.append(
                CatalogProblem(
                    file,
                    f"unknown region {item.competent_region!r} (known: {', '.join(regions)})",
                    item=item.code,
                    field="competent_region",
                )
            )
        problems += _honesty(item, file)
        material_ids = [m.id for m in item.materials]
        for dup in sorted({m for m in material_ids if material_ids.count(m) > 1}):
            problems.append(
                CatalogProblem(
                    file, f"material id {dup!r} repeated", item=item.code, field="materials"
                )
            )
    codes = {item.code for item in items}
    for item in items:
        for counterpart in item.counterparts:
            if counterpart not in codes:
                problems.append(
                    CatalogProblem(
                        origin.get(item.code, "(catalogue)"),
                        f"counterpart {counterpart!r} is not in the catalogue",
                        item=item.code,
                        field="counterparts",
                    )
                )
    return problems
