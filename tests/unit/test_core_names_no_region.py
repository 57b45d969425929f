"""The core names no region, checked on the source with `ast`.

No module under ``gateway/`` names a region (shenzhen, dongguan, zhangjiagang):
regions are data (the catalogue) and plugins (entry points), never core code. (The
other half of the adapter contract, that adapters import from the core only the
contract modules, is a rule of test_import_graph.py.) Precisely, in every
``gateway/**/*.py``:
   - no identifier contains a region name as one of its ``_``-separated words, in
     any case (names, attributes, definitions, arguments, keyword arguments,
     imported modules and names): ``shenzhen_url``, ``ShenzhenSettings``,
     ``from adapters.shenzhen import ...``;
   - no string is a configuration key that names a region: a region name joined to
     another word by ``.`` or ``_`` (``"adapters.shenzhen"``, ``"dongguan_password"``,
     ``"TONGBAN_ADAPTERS__SHENZHEN__URL"``);
   - no dict literal is keyed by a region name (``{"shenzhen": ...}``: a per-region
     table in code).
   Plain words in strings stay allowed: a help text's example (``--region shenzhen``),
   a demo's sample application (``"receiving_region": "dongguan"``), a calendar file
   name (``shenzhen-2027.toml``). No module is exempt: the demo wiring discovers the
   sandboxes through entry points and needs no region's name.

The rule is also run against small bad modules, so the test cannot pass by checking
nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REGIONS = ("shenzhen", "dongguan", "zhangjiagang")

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_REGION = "|".join(REGIONS)
# A region name with a word on either side, joined by dots or underscores.
_CONFIG_KEY = re.compile(
    rf"(?i)(?:[a-z0-9][._]+(?:{_REGION})(?![a-z])|(?<![a-z])(?:{_REGION})[._]+[a-z0-9])"
)


def python_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def _identifiers(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield line, node.name
        elif isinstance(node, ast.arg | ast.keyword):
            if node.arg is not None:  # a keyword's is None for **kwargs
                yield line, node.arg
        elif isinstance(node, ast.alias):
            yield line, node.name
            if node.asname:
                yield line, node.asname
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield line, node.module


def _names_a_region(identifier: str) -> bool:
    words = {
        word.lower() for part in re.split(r"[._]", identifier) for word in _WORDS.findall(part)
    }
    return any(region in words for region in REGIONS)


def region_names(source: str, name: str) -> list[str]:
    """Where `source` names a region in code (see the module docstring), as ``name:line``."""
    tree = ast.parse(source, filename=name)
    found = [
        f"{name}:{line} identifier {ident}"
        for line, ident in _identifiers(tree)
        if _names_a_region(ident)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _CONFIG_KEY.search(node.value)
            if match:
                found.append(f"{name}:{node.lineno} config key {match.group(0)!r}")
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in REGIONS:
                    found.append(f"{name}:{key.lineno} dict keyed by {key.value!r}")
    return found


def test_the_core_names_no_region() -> None:
    problems = []
    for path in python_files(REPO / "gateway"):
        problems += region_names(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert problems == [], "the core names a region:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "shenzhen_url = 'x'",
        "class ShenzhenSettings: ...",
        "settings.adapters.dongguan_password",
        "def f(zhangjiagang_key): ...",
        "f(shenzhen_url='x')",
        "from adapters.shenzhen import create",
        "KEY = 'adapters.shenzhen'",
        "VAR = 'TONGBAN_ADAPTERS__SHENZHEN__URL'",
        "setting = 'dongguan_url'",
        "URLS = {'shenzhen': 'http://127.0.0.1:8101'}",
    ],
)
def test_a_region_named_in_code_is_found(source: str) -> None:
    assert region_names(source, "bad.py") != []


@pytest.mark.parametrize(
    "source",
    [
        "HELP = 'Only items of this competent region (shenzhen, dongguan...).'",
        "SAMPLE = {'receiving_region': 'dongguan'}",
        "NAME = 'shenzhen-2027.toml'",
        "CENTRE = 'dongguan'",
        "def shenzhenish_free(): ...",  # not the word itself
    ],
)
def test_region_words_as_data_are_allowed(source: str) -> None:
    assert region_names(source, "ok.py") == []
