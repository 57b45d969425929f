"""Write a region's catalogue file: reviewable YAML, replaced atomically.

Used by the sample-catalogue generator and by `tongban catalog import`. Fields
left at their model default are omitted so a diff shows what an item says, and
short lists of scalars are written in flow style (``[window, online]``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from gateway.catalog.models import Item


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes lists of scalars inline and keeps Chinese as-is."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    scalars = all(isinstance(value, str | int | float | bool) for value in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=scalars)


_Dumper.add_representer(list, _represent_list)


def dump_items(items: Iterable[Item], header: str = "") -> str:
    """The YAML text of a region file holding `items`, after the comment `header`."""
    documents = []
    for item in items:
        document = item.model_dump(mode="json", exclude_defaults=True)
        if item.materials:
            # Whether a material is required and how far it is trusted are what a
            # reviewer checks first: always written, even at their defaults.
            document["materials"] = [
                {
                    "id": material.id,
                    "material_name": material.material_name,
                    "is_need": material.is_need,
                    "trust_level": material.trust_level.value,
                    **material.model_dump(mode="json", exclude_defaults=True),
                }
                for material in item.materials
            ]
        documents.append(document)
    body = yaml.dump(
        {"items": documents},
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=1000,
        default_flow_style=False,
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text`: write a temporary file beside it, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
