"""`tongban bench` itself: a tiny intake run produces a complete, well-formed JSON.

Runs the real command (gateway, sandboxes and baselines as processes, the load from
another process) for a second, and checks the shape and the answers, never the
timings: every intake request was answered 202, every row has every column.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.bench.report import COLUMNS

pytestmark = pytest.mark.whole_system

TONGBAN = str(Path(sys.executable).with_name("tongban"))


@pytest.mark.timeout(240)
def test_intake_run_writes_every_row_and_column(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    finished = subprocess.run(
        [TONGBAN, "bench", "--scenario", "intake", "--duration", "1", "--runs", "1",
         "--concurrency", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=220, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    document = json.loads(out.read_text("utf-8"))
    assert document["columns"] == list(COLUMNS)
    assert document["nproc"] >= 1
    assert document["command"].startswith("tongban bench --scenario intake")
    rows = {row["name"]: row for row in document["rows"]}
    assert {"bare POST", "bare GET", "sandbox direct", "nginx → sandbox", "intake"} <= set(rows)
    for row in rows.values():
        assert set(row) == set(COLUMNS), row["name"]
    intake = rows["intake"]
    assert intake["requests"] > 0
    assert intake["statuses"] == {"202": intake["requests"]}
    assert intake["errors"] == {}
    assert intake["baseline"] == "bare POST"
    for column in ("throughput", "p50_ms", "p95_ms", "p99_ms", "cpu_s", "peak_rss_mb"):
        assert intake[column] is not None, column
    assert intake["peak_rss_mb"] > 0
    assert rows["bare POST"]["statuses"] == {"202": rows["bare POST"]["requests"]}
    assert rows["sandbox direct"]["requests"] > 0
    if rows["nginx → sandbox"]["note"].startswith("skipped"):
        assert rows["nginx → sandbox"]["requests"] == 0
    else:
        assert rows["nginx → sandbox"]["statuses"] == {"200": rows["nginx → sandbox"]["requests"]}
    assert "intake" in finished.stdout  # the table
