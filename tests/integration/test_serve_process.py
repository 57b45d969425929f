"""`tongban serve` as a real subprocess: it takes its port before it starts anything."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gateway.server import event_loop_factory, loop_name

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


def test_serve_beside_a_running_gateway_fails_before_touching_its_data(tmp_path: Path) -> None:
    """A second `serve` on a taken port exits 1 naming the address, and opens no store,
    creates no data directory and starts no relay (it would share the first's database)."""
    data_dir = tmp_path / "var"
    with socket.socket() as taken:  # the port of a gateway already running
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "tongban.toml"
        config.write_text(
            f'data_dir = "{data_dir}"\n[server]\nport = {port}\n'
            f'[catalog]\ndirectory = "{CATALOGS}"\n'
            '[security]\nkey_passphrase = "p"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "relay.started" not in result.stderr
    assert "store.migrated" not in result.stderr
    assert not data_dir.exists()


def test_serve_without_a_key_passphrase_says_so_and_creates_nothing(tmp_path: Path) -> None:
    """Keys at rest are encrypted under the passphrase: without one, `serve` stops at once,
    naming the variable, before it makes a data directory, a database or a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "security.key_passphrase is not set" in result.stderr
    assert "TONGBAN_SECURITY__KEY_PASSPHRASE" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("choice", "expected"), [("auto", "uvloop"), ("asyncio", "asyncio")])
def test_serve_runs_on_the_event_loop_its_settings_name(
    tmp_path: Path, choice: str, expected: str
) -> None:
    """``server.event_loop``: uvloop by default (a dependency here), asyncio when asked;
    either way the gateway answers, says which in ``server.listening`` and stops on SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "tongban.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[server]\nport = {port}\nevent_loop = "{choice}"\n'
        f'[catalog]\ndirectory = "{CATALOGS}"\n[log]\nformat = "json"\n'
        '[security]\nkey_passphrase = "p"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        listening = None
        for line in process.stderr:
            if '"server.listening"' in line:
                listening = json.loads(line)
                break
        assert listening is not None, "the gateway never listened"
        assert listening["event_loop"] == expected
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)  # reads the rest of stderr and closes it
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_the_event_loop_factory_gives_the_loop_asked_for() -> None:
    assert event_loop_factory("asyncio") is None
    factory = event_loop_factory("uvloop")
    assert factory is not None
    loop = factory()
    try:
        assert loop_name(loop) == "uvloop"
    finally:
        loop.close()
