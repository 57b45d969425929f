"""`tongban bench` itself: tiny runs produce complete, well-formed JSON.

Runs the real command (gateway, sandboxes and baselines as processes, the load from
another process) for a second, and checks the shape and the answers, never the
timings: every intake request was answered 202, every row has every column; the
open-loop rows send exactly what they schedule; several PostgreSQL processes are
`tongban serve --workers N`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from support.loopback import free_port

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


@pytest.mark.timeout(240)
def test_added_latency_runs_open_loop_and_reports_the_difference(tmp_path: Path) -> None:
    """`--scenario added-latency`: the sandbox and intake at one fixed rate, every
    scheduled request sent and answered, and the p99 the gateway adds."""
    out = tmp_path / "out.json"
    finished = subprocess.run(
        [TONGBAN, "bench", "--scenario", "added-latency", "--rate", "40", "--duration", "1",
         "--runs", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=220, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    document = json.loads(out.read_text("utf-8"))
    assert document["rate"] == 40
    assert "--rate 40" in document["command"]
    rows = {row["name"]: row for row in document["rows"]}
    direct, intake = rows["sandbox direct @ 40/s"], rows["intake @ 40/s"]
    assert direct["rate"] == intake["rate"] == 40
    assert direct["statuses"] == {"200": 40}  # 1 s at 40/s: exactly 40 scheduled
    assert intake["statuses"] == {"202": 40}
    assert intake["errors"] == {}
    assert intake["baseline"] == direct["name"]
    assert intake["added_p99_ms"] == pytest.approx(intake["p99_ms"] - direct["p99_ms"], abs=0.02)
    assert "open loop at 40/s" in intake["note"]
    assert rows["bare POST"]["added_p99_ms"] is None  # closed loop: no difference given


@pytest.mark.timeout(60)
def test_open_loop_counts_queueing_from_the_scheduled_time() -> None:
    """A server that takes 50 ms a request, one connection, 40 requests scheduled
    over one second: they queue for ~2 s, and the latencies show it (a closed loop,
    timing each from its send, would show ~50 ms each)."""
    from aiohttp import web

    from gateway.bench.loadgen import Plan, run_load

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", slow)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    port = free_port()
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        result = run_load(
            Plan(url=f"http://127.0.0.1:{port}/", duration=1.0, rate=40, concurrency=1)
        )
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()
    assert result.statuses == {200: 40}
    assert len(result.lags) == 40
    # The last request waited behind 39 others of >= 50 ms each, from its slot at ~0.975 s.
    assert max(result.latencies) >= 39 * 0.05 - 0.975


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_postgres_processes_are_serve_workers_on_one_port() -> None:
    """`--processes 2` runs `tongban serve --workers 2`: the measured pids are the
    parent and both workers, all gone after the run."""
    from gateway.bench.cluster import Cluster

    try:
        asyncio.run(_postgres_reachable())
    except (OSError, TimeoutError) as exc:
        message = f"PostgreSQL unreachable at 127.0.0.1:5432 ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with Cluster(backend="postgres", processes=2) as cluster:
        pids = cluster.gateway_pids
        assert len(pids) == 3
        parent, *workers = pids
        assert b"--workers" in Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")
        for pid in workers:
            assert any(
                arg.startswith(b"--listen-fd")
                for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            )
        with urllib.request.urlopen(f"{cluster.url}/healthz", timeout=10) as answer:  # noqa: S310
            assert answer.status == 200
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


async def _postgres_reachable() -> None:
    import asyncpg

    from gateway.bench.cluster import POSTGRES_ADMIN

    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    await connection.close()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
