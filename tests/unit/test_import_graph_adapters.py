"""The adapter contract holds both ways, checked on the source with `ast`.

1. Modules under ``adapters/`` import from ``gateway`` only the contract modules in
   `CONTRACT`, so a third-party region plugin can be built from the same few modules
   and the core can change everything else freely.
2. No module under ``gateway/`` names a region (shenzhen, dongguan, zhangjiagang):
   regions are data (the catalogue) and plugins (entry points), never core code.
   Precisely, in every ``gateway/**/*.py``:
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

Each rule is also run once against a small bad module, so the test cannot pass by
checking nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REGIONS = ("shenzhen", "dongguan", "zhangjiagang")

CONTRACT = {
    # The messages exchanged with regions (Envelope, RegionAck, StatusEvent) and
    # the application `Status` they map onto: the contract's data half.
    "gateway.envelope": "the messages and Status",
    # The one exception tree (STYLE 6): adapters raise RegionUnavailable /
    # RegionRejected / CallbackRejected, so the relay decides retries from the type.
    "gateway.errors": "the exception tree adapters raise",
    # Strict JSON parsing (duplicate keys, NaN, depth, size), a leaf module that imports
    # nothing from the gateway: regions' answers get the checks partners' requests get.
    "gateway.jsonio": "strict JSON parsing",
    # 国密 SM2/SM3 primitives (keys, signatures, envelopes), for regions whose protocol
    # demands SM2 (Zhangjiagang); the gateway's own SM2 key is an `SM2PrivateKey`.
    "gateway.security.sm2": "SM2 primitives",
    # The outbound HTTP client and Retry-After parsing every region speaks through;
    # `adapters.http` re-exports them so a plugin needs no other core module.
    "gateway.http.client": "the shared outbound HTTP client",
    # The peer is another Tongban gateway: it speaks our own partner API, whose request
    # models are the public contract (contracts/openapi.yaml), and checks the peer's
    # signed receipt exactly as partners check ours.
    "gateway.applications.models": "the partner API's request models (the peer)",
    "gateway.security.receipts": "verifying a peer gateway's signed receipt",
}

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_REGION = "|".join(REGIONS)
# A region name with a word on either side, joined by dots or underscores.
_CONFIG_KEY = re.compile(
    rf"(?i)(?:[a-z0-9][._]+(?:{_REGION})(?![a-z])|(?<![a-z])(?:{_REGION})[._]+[a-z0-9])"
)


def python_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def gateway_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every ``gateway`` module a module imports, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "gateway" or alias.name.startswith("gateway."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "gateway":  # from gateway import x: x is a module
                for alias in node.names:
                    yield node.lineno, f"gateway.{alias.name}"
            elif node.module.startswith("gateway."):
                yield node.lineno, node.module


def foreign_imports(source: str, name: str) -> list[str]:
    """Imports of non-contract gateway modules in `source`, as ``name:line module``."""
    tree = ast.parse(source, filename=name)
    return [
        f"{name}:{line} {module}"
        for line, module in gateway_imports(tree)
        if module not in CONTRACT
    ]


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


def test_adapters_import_from_the_gateway_only_the_contract() -> None:
    problems = []
    for path in python_files(REPO / "adapters"):
        problems += foreign_imports(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert problems == [], "adapters import core modules outside the contract:\n" + "\n".join(
        problems
    )


def test_the_contract_modules_exist() -> None:
    """A renamed contract module must be renamed here too, not silently allowed."""
    for module in CONTRACT:
        path = REPO / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module


def test_the_core_names_no_region() -> None:
    problems = []
    for path in python_files(REPO / "gateway"):
        problems += region_names(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert problems == [], "the core names a region:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "from gateway.applications.queries import owner_of",
        "from gateway.api.responses import json_response",
        "import gateway.config",
        "from gateway import relay",
        "def f():\n    from gateway.store import Store",
    ],
)
def test_a_core_import_in_an_adapter_is_found(source: str) -> None:
    assert foreign_imports(source, "bad.py") != []


def test_contract_imports_pass() -> None:
    source = "from gateway.envelope import Status\nfrom gateway.errors import RegionRejected\n"
    assert foreign_imports(source, "good.py") == []


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
