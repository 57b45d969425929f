"""`tongban demo --federation` as a real subprocess: two gateways wired as peers, and the
one printed command, submitted at Dongguan for a Shenzhen item, comes back 准予."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest
from support.demo_process import demo_env, running_demo, wait_json, wait_line
from support.loopback import free_port

pytestmark = pytest.mark.whole_system


def two_free_ports() -> int:
    """A port P with P and P + 1 both free (the demo puts Shenzhen's gateway on P + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    pytest.fail("no two consecutive free ports")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(180)
def test_federation_demo_relays_a_shenzhen_item_through_the_peer_gateway(tmp_path: Path) -> None:
    port = two_free_ports()
    env = demo_env()
    demo = running_demo(tmp_path, "--federation", "--port", str(port), stop_seconds=30)
    with demo as (process, lines):
        wait_json(f"http://127.0.0.1:{port}/readyz", process, seconds=60)
        wait_json(f"http://127.0.0.1:{port + 1}/healthz", process, seconds=60)
        printed = wait_line(lines, " partner submit ", process)
        result = subprocess.run(
            shlex.split(printed), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        application_id = json.loads(result.stdout)["id"]
        words = shlex.split(printed)
        at = words.index("submit")
        options = words[at + 1 :]
        get = [*words[:at], "get"]
        for name in ("--url", "--key", "--key-id"):
            get += [name, options[options.index(name) + 1]]
        get += [application_id, "--json"]
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and status != "approved":
            answer = subprocess.run(get, cwd=tmp_path, env=env, capture_output=True, text=True)
            assert answer.returncode == 0, answer.stderr
            status = json.loads(answer.stdout)["status"]
            time.sleep(0.5)
        assert status == "approved"
    # Stopping the demo stops Shenzhen's gateway too.
    assert not listening(port + 1)
