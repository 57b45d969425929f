"""A region plugin installed for one test: a module and its dist-info on ``sys.path``.

`importlib.metadata` finds it as it finds a ``pip install``-ed distribution, so the
registry's entry-point discovery is exercised for real, not stubbed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def install_distribution(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    module: str,
    source: str,
    distribution: str,
    version: str,
    entry_points: dict[str, str],
) -> None:
    """Write `module` (its `source`) and the dist-info of `distribution` `version` under
    `root` with ``{region: "module:function"}`` in group ``tongban.adapters``, and put
    `root` first on ``sys.path`` (undone after the test, like any earlier import of it)."""
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
    )
    points = "".join(f"{region} = {target}\n" for region, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[tongban.adapters]\n{points}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, module, raising=False)
