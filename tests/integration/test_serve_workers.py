"""`tongban serve --workers N` as real processes: the parent's supervision, and its refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from support.at_rest import TEST_PASSPHRASE
from support.loopback import free_port

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_SECURITY__KEY_PASSPHRASE"] = TEST_PASSPHRASE
    return env


def _config(tmp_path: Path, port: int, store_url: str | None = None) -> Path:
    store = f'[store]\nurl = "{store_url}"\n' if store_url else ""
    config = tmp_path / "tongban.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[server]\nport = {port}\nshutdown_timeout = 2.0\n'
        f'[catalog]\ndirectory = "{CATALOGS}"\n[relay]\nenabled = false\n{store}',
        encoding="utf-8",
    )
    return config


def _events(log: Path, name: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text("utf-8").splitlines():
        if f'"{name}"' in line:
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def _until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_several_workers_on_sqlite_are_refused_before_anything_is_made(tmp_path: Path) -> None:
    """The embedded store has one writer: `--workers 2` on it is a usage error naming
    PostgreSQL, and no database, data directory or key is created."""
    config = _config(tmp_path, free_port())
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--workers", "2", "--config", str(config)],
        env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--workers 2 needs PostgreSQL" in result.stderr
    assert not (tmp_path / "var").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_the_parent_restarts_a_killed_worker_forwards_sighup_and_takes_its_workers_along(
    tmp_path: Path, store_url: str
) -> None:
    """Two workers answer on one port. A worker killed with SIGKILL is replaced; SIGHUP
    to the parent reloads the keys in every worker; and when the parent itself is killed,
    its workers notice and stop (no orphan keeps the port or the database)."""
    port = free_port()
    config = _config(tmp_path, port, store_url)
    log = tmp_path / "gateway.log"
    with log.open("ab") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--workers", "2",
             "--config", str(config)],
            env={**_env(), "TONGBAN_LOG__LEVEL": "info"}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _until(lambda: len(_events(log, "workers.worker_ready")) == 2, "two workers")
        first = {int(str(e["pid"])) for e in _events(log, "workers.worker_ready")}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            assert answer.status == 200

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _until(lambda: len(_events(log, "workers.worker_ready")) == 3, "a replacement worker")
        died = _events(log, "workers.worker_died")
        assert [e["pid"] for e in died] == [victim]
        latest = {e["worker"]: int(str(e["pid"])) for e in _events(log, "workers.worker_ready")}
        now = set(latest.values())
        assert victim not in now
        assert len(now) == 2
        assert all(_alive(pid) for pid in now)

        parent.send_signal(signal.SIGHUP)
        _until(lambda: len(_events(log, "security.reloaded")) == 2, "a reload in each worker")
        assert parent.poll() is None

        parent.kill()  # SIGKILL: no chance to stop its workers itself
        parent.wait()
        _until(lambda: not any(_alive(pid) for pid in now), "the orphaned workers to stop", 30)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
