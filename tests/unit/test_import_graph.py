"""The dependency rules of the code base, read from the source with `ast`.

Each rule is a row of `CORE_LAYERS`: which modules it governs (by dotted prefix),
which imports they may not make, and named exceptions with the reason each is
allowed. Imports under ``if TYPE_CHECKING:`` count too: a dependency for the
type checker is still a dependency a reader must follow. Add rules by adding rows.
"""

from __future__ import annotations

import ast
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
