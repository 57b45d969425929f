"""`tongban demo` as a real subprocess: it becomes ready, SIGTERM stops it cleanly, and
the partner command it prints works end to end."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.client import HTTPResponse
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.loopback import free_port

from gateway.audit.merkle import verify_inclusion
from gateway.security import verify_receipt
from gateway.security.demo import DEMO_ITEM

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
T = TypeVar("T")


def wait_get(
    url: str,
    process: subprocess.Popen[Any],
    seconds: float,
    read: Callable[[HTTPResponse], T],
    pause: float = 0.1,
) -> T:
    """GET `url` until it answers (2xx or 3xx) while the demo runs; `read` of the answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"demo exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                return read(response)
        except OSError:
            time.sleep(pause)
    pytest.fail(f"{url} gave no answer within {seconds} s")


def wait_ready(url: str, process: subprocess.Popen[Any], seconds: float = 45.0) -> int:
    # A deadline, not a timing: start-up took over 20 s on the shared 2-core machine
    # while test_installed_wheel.py built and installed a wheel on the other worker.
    return wait_get(url, process, seconds, lambda response: int(response.status))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_demo_serves_readyz_and_exits_cleanly_on_signal(tmp_path: Path, signum: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_CATALOG__DIRECTORY"] = str(CATALOGS)
    env["TONGBAN_CALENDAR__DIRECTORY"] = str(CATALOGS / "calendar")
    # `with`: the pipes are closed on every path, also when the demo exits early.
    with subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port), "--data-dir", "d"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            assert wait_ready(f"http://127.0.0.1:{port}/readyz", process) == 200
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"gateway.stopped" in stderr
    assert (tmp_path / "d" / "tongban.db").exists()


def test_demo_prints_a_partner_command_that_gets_a_signed_receipt(tmp_path: Path) -> None:
    """The printed `tongban partner submit ...` runs as printed, with no venv on PATH,
    and is printed after the start-up log lines: 202, a receipt that verifies against
    the demo's JWKS, and an inclusion proof for its audit entry."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_CATALOG__DIRECTORY"] = str(CATALOGS)
    env["TONGBAN_CALENDAR__DIRECTORY"] = str(CATALOGS / "calendar")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port), "--data-dir", "d"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    # Drain stderr in a thread: a full pipe would stall the demo.
    drain = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    drain.start()
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(f"{base}/readyz", process) == 200
        printed = wait_line(lines, " partner submit ", process)
        started = [i for i, line in enumerate(lines) if "server.listening" in line]
        assert started, lines
        assert lines.index(printed) > started[0]  # after start-up logging, not scrolled away
        # As a newcomer would run it: in a fresh shell, no venv activated.
        bare = {**env, "PATH": "/usr/bin:/bin"}
        result = subprocess.run(
            shlex.split(printed), cwd=tmp_path, env=bare, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["status"] == "received"
        assert answer["receipt"]["item"]["code"] == DEMO_ITEM
        with urllib.request.urlopen(f"{base}/.well-known/tongban/keys", timeout=5) as response:  # noqa: S310 - loopback
            jwks = json.load(response)
        receipt = verify_receipt(answer["receipt"], jwks)
        proof = wait_json(f"{base}{receipt['audit']['proof_url']}", process, seconds=12)
        assert proof["leaf_hash"] == receipt["audit"]["leaf_hash"]
        assert verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            receipt["audit"]["seq"],
            proof["tree_size"],
            [bytes.fromhex(h) for h in proof["path"]],
            bytes.fromhex(proof["checkpoint"]["root_hash"]),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        drain.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


def wait_line(lines: list[str], text: str, process: subprocess.Popen[str]) -> str:
    """The first line printed so far that holds `text` (waiting a little for it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = next((line for line in list(lines) if text in line), None)
        if found is not None:
            return found
        if process.poll() is not None:
            pytest.fail(f"demo exited early with {process.returncode}")
        time.sleep(0.1)
    pytest.fail(f"the demo printed no line with {text!r}: {lines}")


def wait_json(url: str, process: subprocess.Popen[str], seconds: float) -> Any:
    """GET `url` until it answers 200 (e.g. a proof once the next checkpoint is sealed)."""
    return wait_get(url, process, seconds, json.load, pause=0.2)
