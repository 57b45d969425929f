"""The dependency rules of the code base, read from the source with `ast`.

Each import rule is a row of `CORE_LAYERS`: which modules it governs (by dotted
prefix), which imports they may not make, and named exceptions with the reason each
is allowed. Imports under ``if TYPE_CHECKING:`` count too: a dependency for the
type checker is still a dependency a reader must follow. Add rules by adding rows.

Two rules are about what a module holds rather than what it imports: every typed
key of the gateway's app state is made in `gateway.app_keys` (so reading app state
needs no other package's internals), and the HTTP routes in `gateway/api/` hold no
SQL and call no store connection (queries live in the packages that own the data;
routes translate HTTP). That the core names no region is checked in
test_core_names_no_region.py.

Each checker is also run against a small bad tree or snippet, so a rule cannot pass
by checking nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "adapters")


@dataclass(frozen=True)
class Rule:
    """Modules under `governs` (minus `outside`) may not import anything under `forbidden`.

    `allowed` lists imports under `forbidden` that are nonetheless fine; `exempt`
    names importers the rule does not apply to, each with the reason why.
    """

    name: str
    governs: tuple[str, ...]
    forbidden: tuple[str, ...]
    outside: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    exempt: Mapping[str, str] = field(default_factory=dict)


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
"""The core modules a region plugin may import: with `adapters.base`, all that a
third-party plugin needs, so the core can change everything else freely."""

CORE_LAYERS = (
    Rule(
        "api-is-the-outer-layer",
        governs=PACKAGES,
        outside=("gateway.api", "gateway.app"),
        forbidden=("gateway.api",),
        exempt={
            "gateway.app_keys": "names the value type of OPENAPI for the type checker only",
        },
    ),
    Rule(
        "problems-is-a-leaf",
        governs=("gateway.problems",),
        forbidden=("gateway", "adapters"),
    ),
    Rule(
        "relay-knows-no-applications",
        governs=("gateway.relay",),
        forbidden=("gateway.applications",),
        exempt={
            "gateway.relay.cli": "a CLI command is a composition root, like gateway.app: "
            "it builds the applications' DeliveryListener for `deliveries replay`",
        },
    ),
    Rule(
        "applications-reach-the-relay-only-through-the-seam",
        governs=("gateway.applications",),
        forbidden=("gateway.relay",),
        # The listener the applications implement, and the delivery records it is given.
        allowed=("gateway.relay.seam", "gateway.relay.deliveries"),
    ),
    Rule(
        "core-imports-only-the-adapter-contract",
        governs=("gateway",),
        forbidden=("adapters",),
        # The contract every region plugin implements; helpers adapters share
        # live in the core (`gateway.http.client`), not the other way round.
        allowed=("adapters.base",),
        exempt={
            "gateway.demo": "starts the bundled region sandboxes for `tongban demo`",
            "gateway.adapters_cli": "`tongban adapters sandbox` runs a plugin's sandbox",
        },
    ),
    Rule(
        "adapters-import-only-the-contract",
        governs=("adapters",),
        forbidden=("gateway",),
        allowed=tuple(CONTRACT),
    ),
    Rule(
        "outbox-is-shared-by-both",
        governs=("gateway.outbox",),
        forbidden=("gateway.relay", "gateway.applications", "gateway.api"),
    ),
)


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module `source` imports, absolute, with its line (``from a import b`` gives
    ``a`` and ``a.b``, since ``b`` may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def violations(rule: Rule, root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            if not under(module, rule.governs) or under(module, rule.outside):
                continue
            if module in rule.exempt:
                continue
            source = path.read_text("utf-8")
            for line, imported in imports_of(source, module, is_package=path.name == "__init__.py"):
                if under(imported, rule.forbidden) and not under(imported, rule.allowed):
                    found.append(f"{path.relative_to(root)}:{line} imports {imported}")
    return sorted(set(found))


@pytest.mark.parametrize("rule", CORE_LAYERS, ids=lambda rule: rule.name)
def test_core_layers_hold(rule: Rule) -> None:
    assert violations(rule, ROOT) == []


def test_core_layers_exemptions_name_real_modules() -> None:
    """An exemption for a module that no longer exists would hide nothing but rot."""
    for rule in CORE_LAYERS:
        for module in rule.exempt:
            path = ROOT / Path(*module.split("."))
            assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), module


def test_the_contract_modules_exist() -> None:
    """A renamed contract module must be renamed here too, not silently allowed."""
    for module in CONTRACT:
        path = ROOT / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module


def test_core_layers_checker_finds_a_broken_rule(tmp_path: Path) -> None:
    """The checker itself: a crossing in a small fake tree is reported, by line."""
    (tmp_path / "gateway" / "relay").mkdir(parents=True)
    (tmp_path / "adapters").mkdir()
    (tmp_path / "gateway" / "relay" / "__init__.py").write_text("")
    (tmp_path / "gateway" / "relay" / "worker.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..applications import journal\n"
        "from gateway.applications.queries import owner_of\n"
    )
    (tmp_path / "gateway" / "problems.py").write_text("import gateway.jsonio\n")
    rules = {rule.name: rule for rule in CORE_LAYERS}
    assert violations(rules["relay-knows-no-applications"], tmp_path) == [
        "gateway/relay/worker.py:3 imports gateway.applications",
        "gateway/relay/worker.py:3 imports gateway.applications.journal",
        "gateway/relay/worker.py:4 imports gateway.applications.queries",
        "gateway/relay/worker.py:4 imports gateway.applications.queries.owner_of",
    ]
    assert violations(rules["problems-is-a-leaf"], tmp_path) == [
        "gateway/problems.py:1 imports gateway.jsonio"
    ]


def _adapter_module(root: Path, source: str) -> list[str]:
    (root / "adapters").mkdir(parents=True, exist_ok=True)
    (root / "adapters" / "region.py").write_text(source, encoding="utf-8")
    rules = {rule.name: rule for rule in CORE_LAYERS}
    return violations(rules["adapters-import-only-the-contract"], root)


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
def test_a_core_import_in_an_adapter_is_found(tmp_path: Path, source: str) -> None:
    assert _adapter_module(tmp_path, source) != []


def test_contract_imports_in_an_adapter_pass(tmp_path: Path) -> None:
    source = (
        "from gateway.envelope import Status\n"
        "from gateway.errors import RegionRejected\n"
        "from gateway.http.client import AiohttpClient, retry_after\n"
    )
    assert _adapter_module(tmp_path, source) == []


# --- What a module holds ------------------------------------------------------------

APP_KEYS_MODULE = "gateway/app_keys.py"
_SQL = re.compile(r"^\s*(?:SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|WITH)\s")
CONNECTION_CALLS = frozenset(
    {"execute", "execute_many", "execute_script", "fetch_one", "fetch_all"}
)


def _called(node: ast.Call) -> str | None:
    """The called name: ``f`` for ``f(...)`` and ``x.y.f(...)``."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _sources(root: Path, folder: str) -> Iterator[tuple[str, ast.AST]]:
    for path in sorted((root / folder).rglob("*.py")):
        yield str(path.relative_to(root)), ast.parse(path.read_text("utf-8"), filename=str(path))


def app_keys_made_elsewhere(root: Path) -> list[str]:
    """Every ``AppKey(...)`` made in ``gateway/`` outside `APP_KEYS_MODULE`, by line.

    (A region sandbox is its own aiohttp app: its keys stay with it in ``adapters/``.)"""
    return [
        f"{name}:{node.lineno} makes an AppKey"
        for name, tree in _sources(root, "gateway")
        if name != APP_KEYS_MODULE
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called(node) == "AppKey"
    ]


def store_access_in_routes(root: Path) -> list[str]:
    """SQL text and store-connection calls in ``gateway/api/``, by line."""
    found = []
    for name, tree in _sources(root, "gateway/api"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _SQL.match(node.value):
                    found.append(f"{name}:{node.lineno} SQL {node.value.split()[0]}")
            elif isinstance(node, ast.Call) and _called(node) in CONNECTION_CALLS:
                found.append(f"{name}:{node.lineno} calls {_called(node)}")
    return found


def test_app_keys_are_made_only_in_app_keys() -> None:
    assert app_keys_made_elsewhere(ROOT) == []


def test_routes_hold_no_sql() -> None:
    assert store_access_in_routes(ROOT) == []


def test_holding_checkers_find_a_broken_rule(tmp_path: Path) -> None:
    (tmp_path / "gateway" / "api").mkdir(parents=True)
    (tmp_path / "gateway" / "app_keys.py").write_text('KEY = web.AppKey("k", int)\n')
    (tmp_path / "gateway" / "relay.py").write_text(
        "from aiohttp import web\nfrom aiohttp.web import AppKey\n"
        'A = web.AppKey("a", int)\nB: AppKey[str] = AppKey("b")\n'
    )
    (tmp_path / "gateway" / "api" / "cases.py").write_text(
        "async def route(request):\n"
        '    """Update the case: a docstring is not SQL."""\n'
        "    async with store.transaction() as conn:\n"
        '        await conn.fetch_one("SELECT id FROM applications WHERE id = :i", {})\n'
        '        await conn.execute("""\n  UPDATE applications SET status = 1""")\n'
    )
    assert app_keys_made_elsewhere(tmp_path) == [
        "gateway/relay.py:3 makes an AppKey",
        "gateway/relay.py:4 makes an AppKey",
    ]
    assert sorted(store_access_in_routes(tmp_path)) == [
        "gateway/api/cases.py:4 SQL SELECT",
        "gateway/api/cases.py:4 calls fetch_one",
        "gateway/api/cases.py:5 SQL UPDATE",
        "gateway/api/cases.py:5 calls execute",
    ]
