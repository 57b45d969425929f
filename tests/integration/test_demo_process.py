"""`tongban demo` as a real subprocess: it becomes ready, SIGTERM stops it cleanly, and
the partner command it prints works end to end."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from support.demo_process import demo_env, running_demo, wait_json, wait_line, wait_ready
from support.loopback import free_port

from gateway.audit.merkle import verify_inclusion
from gateway.security import verify_receipt
from gateway.security.demo import DEMO_ITEM


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_demo_serves_readyz_and_exits_cleanly_on_signal(tmp_path: Path, signum: int) -> None:
    port = free_port()
    # `with`: the pipes are closed on every path, also when the demo exits early.
    with subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port), "--data-dir", "d"],
        cwd=tmp_path,
        env=demo_env(),
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
    with running_demo(tmp_path, "--port", str(port), stop_seconds=10) as (process, lines):
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(f"{base}/readyz", process) == 200
        printed = wait_line(lines, " partner submit ", process)
        started = [i for i, line in enumerate(lines) if "server.listening" in line]
        assert started, lines
        assert lines.index(printed) > started[0]  # after start-up logging, not scrolled away
        # As a newcomer would run it: in a fresh shell, no venv activated.
        bare = {**demo_env(), "PATH": "/usr/bin:/bin"}
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
