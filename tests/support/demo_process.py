"""`tongban demo` as a real subprocess, and waiting on what it serves and prints.

`running_demo` starts it in a directory of the test's own, collects what it writes
to stderr line by line, and stops it (SIGTERM, SIGKILL if it hangs) however the
test ends. The ``wait_*`` helpers fail the test at once if the demo exits early.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.client import HTTPResponse
from pathlib import Path
from typing import Any, TypeVar

import pytest

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
T = TypeVar("T")


def demo_env() -> dict[str, str]:
    """This environment minus any ``TONGBAN_*`` setting, on the repository's catalogues."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_CATALOG__DIRECTORY"] = str(CATALOGS)
    env["TONGBAN_CALENDAR__DIRECTORY"] = str(CATALOGS / "calendar")
    return env


@contextmanager
def running_demo(
    cwd: Path, *options: str, stop_seconds: float
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``tongban demo OPTIONS --data-dir d`` in `cwd`: the process, and its stderr lines
    so far. On leaving: SIGTERM, and SIGKILL if it has not exited after `stop_seconds`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", *options, "--data-dir", "d"],
        cwd=cwd,
        env=demo_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    # Drain stderr in a thread: a full pipe would stall the demo.
    drain = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    drain.start()
    try:
        yield process, lines
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=stop_seconds)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        drain.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


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
