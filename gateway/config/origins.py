"""Where a setting came from, so a bad one is reported where it can be fixed.

A value is set on the command line, by a ``TONGBAN_*`` variable or in the TOML file
(highest priority first). `Origins.of` names the one that supplied the value at a
setting's path: the variable's name, or the file and line. tomllib keeps no line
numbers, so `key_lines` finds them with a small scan of the file's text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Origins", "key_lines"]

Loc = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGNMENT = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_KEY_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""")


def _parts(dotted: str) -> tuple[str, ...]:
    """``a."b.c".d`` → ``("a", "b.c", "d")``."""
    return tuple(m.group(1) or m.group(2) or m.group(0) for m in _KEY_PART.finditer(dotted))


def key_lines(text: str) -> dict[Loc, int]:
    """The line (1-based) where each table and key of a TOML document is first written.

    Keys of ``[[array]]`` tables carry the table's index, as pydantic reports them
    (``relay.default.closed.0.start``). Keys inside inline tables and multi-line
    arrays are not listed; callers fall back to the line of the key holding them.
    """
    lines: dict[Loc, int] = {}
    table: Loc = ()
    arrays: dict[Loc, int] = {}
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_string = not in_string
            if not in_string:
                continue
        if in_string:
            continue
        header = _HEADER.match(line)
        if header:
            path: Loc = _parts(header.group(2))
            if header.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                path = (*path, arrays[path])
            table = path
            lines.setdefault(table, number)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            key = (*table, *_parts(assignment.group(1)))
            for end in range(len(table) + 1, len(key) + 1):
                lines.setdefault(key[:end], number)
    return lines


class Origins:
    """Which source set each setting: the command line, the environment or the file."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        file_text: str = "",
        file_values: Mapping[str, Any] | None = None,
        variables: Mapping[tuple[str, ...], str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._file = file
        self._lines = key_lines(file_text) if file_text else {}
        self._file_values = file_values or {}
        self._variables = variables or {}
        self._overrides = overrides or {}

    def __eq__(self, other: object) -> bool:
        # Where values came from is not what the settings are: settings read from a
        # file equal the same settings from the defaults (`Settings` compares these).
        return isinstance(other, Origins)

    __hash__ = None  # type: ignore[assignment]  # equal to every Origins: not hashable

    def of(self, loc: Sequence[str | int]) -> str | None:
        """Where the value at `loc` came from, in words; None for a default.

        A check over a whole section (``store``) names every source inside it.
        """
        loc = tuple(loc)
        if _leaf_at(self._overrides, loc):
            return "set on the command line"
        for path, name in self._variables.items():
            if loc[: len(path)] == path:
                return f"from the environment variable {name}"
        if self._file is not None and _leaf_at(self._file_values, loc):
            return f"in {self._file}, line {self._line(loc)}"
        within = sorted(name for path, name in self._variables.items() if path[: len(loc)] == loc)
        if self._file is not None and loc in self._lines:
            within.insert(0, f"{self._file}, line {self._lines[loc]}")
        return f"set in {' and '.join(within)}" if within else None

    def _line(self, loc: Loc) -> int:
        for end in range(len(loc), 0, -1):
            if loc[:end] in self._lines:
                return self._lines[loc[:end]]
        return 1


def _leaf_at(values: Any, loc: Loc) -> bool:
    """Whether the nested dicts and lists `values` set the value at `loc` itself.

    True when a plain value sits at `loc` or at a prefix of it (pydantic's location
    can go past the value, into the type it was checked against); False when `loc`
    is absent or names a whole section.
    """
    node = values
    for part in loc:
        if isinstance(node, Mapping):
            if part not in node:
                return False
            node = node[part]
        elif isinstance(node, list):
            if not isinstance(part, int) or not 0 <= part < len(node):
                return False
            node = node[part]
        else:
            return True
    return not isinstance(node, Mapping) and bool(loc)
