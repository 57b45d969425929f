"""deploy/grafana/tongban.json reads only metrics the gateway exports, and covers them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.observability.metrics import GatewayMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tongban.json"


def exported() -> set[str]:
    names = set()
    for family in GatewayMetrics().registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    # Families without samples yet (labelled, never set) still expose these series.
    for family in GatewayMetrics().registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_every_dashboard_query_names_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"tongban_[a-z_]+", target["expr"])
    }
    assert used, "the dashboard queries nothing"
    assert used <= exported(), f"not exported: {sorted(used - exported())}"
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    unshown = [
        family.name
        for family in GatewayMetrics().registry.collect()
        if not any(family.name + suffix in used for suffix in suffixes)
    ]
    assert not unshown, f"no panel shows {unshown}"
