"""The gateway as a user installs it (issue 20): built into a wheel, installed into a
fresh virtual environment outside the checkout, and run from an empty directory.

One build and one install per session (they take most of this module's time), in a
module of its own so xdist starts it early; ``xdist_group`` keeps its tests on one
worker under ``--dist loadgroup`` so they share that build.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.loopback import free_port

from gateway import __version__

REPO = Path(__file__).resolve().parents[2]
# The repository directories whose every file the wheel carries, and where it puts them.
PACKAGED_TREES = {"catalogs": "gateway/data/catalogs", "contracts": "gateway/data/contracts"}

pytestmark = [
    pytest.mark.xdist_group("installed_wheel"),
    pytest.mark.timeout(600),
    pytest.mark.whole_system,
]


@dataclass(frozen=True)
class Builds:
    source: Path  # a copy of the checkout's files, as a fresh clone would have them
    direct: Path  # the wheel built straight from the source tree
    sdist: Path
    from_sdist: Path  # the wheel built from that sdist, as pip does from PyPI


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result


def _copy_checkout(target: Path) -> None:
    """Copy the files git knows (tracked or new, not ignored): no stale build/ leaks in."""
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # deleted but still tracked: skip
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _only(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("builds")
    source = root / "source"
    _copy_checkout(source)
    build = [sys.executable, "-m", "build", "--outdir"]
    _run([*build, str(root / "direct"), "--wheel", str(source)])
    # build's default: the sdist first, then a wheel built from the unpacked sdist.
    _run([*build, str(root / "via-sdist"), str(source)])
    return Builds(
        source=source,
        direct=_only(root / "direct", "*.whl"),
        sdist=_only(root / "via-sdist", "*.tar.gz"),
        from_sdist=_only(root / "via-sdist", "*.whl"),
    )


@pytest.fixture(scope="session")
def venv_bin(builds: Builds, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment (outside the checkout) with the wheel installed."""
    venv = tmp_path_factory.mktemp("venv")
    assert not venv.is_relative_to(REPO)
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(builds.direct)])
    return venv / "bin"


def _clean_env() -> dict[str, str]:
    """The environment minus anything that would lead the installed gateway to the checkout."""
    drop = ("TONGBAN_", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_sdist_builds_the_same_wheel(builds: Builds) -> None:
    direct, from_sdist = _wheel_files(builds.direct), _wheel_files(builds.from_sdist)
    assert sorted(from_sdist) == sorted(direct)
    record = next(name for name in direct if name.endswith(".dist-info/RECORD"))
    differing = [n for n in direct if n != record and direct[n] != from_sdist[n]]
    assert differing == []


def test_the_wheel_carries_every_catalogue_and_contract_file(builds: Builds) -> None:
    """Every file under catalogs/ and contracts/, at any depth and of any type (a later
    calendar/*.toml included), is in the wheel where importlib.resources finds it."""
    in_wheel = set(_wheel_files(builds.direct))
    expected = {
        f"{packaged}/{path.relative_to(builds.source / tree).as_posix()}"
        for tree, packaged in PACKAGED_TREES.items()
        for path in (builds.source / tree).rglob("*")
        if path.is_file()
    }
    assert expected
    assert sorted(expected - in_wheel) == []
    assert "gateway/api/openapi.yaml" in in_wheel


def test_installed_version_and_package_are_the_venvs(venv_bin: Path, tmp_path: Path) -> None:
    env = _clean_env()
    version = _run([str(venv_bin / "tongban"), "--version"], cwd=tmp_path, env=env).stdout
    assert version.split() == ["tongban,", "version", __version__]
    where = _run(
        [str(venv_bin / "python"), "-c", "import gateway; print(gateway.__file__)"],
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv_bin.parent)


class Running:
    """A `tongban` subprocess, its stderr collected line by line (a full pipe would stall it)."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_status(self, url: str, seconds: float = 60.0) -> int:
        """GET `url` until it answers; its HTTP status."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"exited early with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return int(error.code)
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"{url} not answering within {seconds} s:\n{self.output()}")

    def wait_line(self, needle: str, seconds: float = 10.0) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            time.sleep(0.1)
        pytest.fail(f"no line with {needle!r} within {seconds} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._drain.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "empty"
    directory.mkdir()
    return directory


def test_installed_demo_runs_from_an_empty_directory_and_takes_its_application(
    venv_bin: Path, empty_dir: Path
) -> None:
    env = _clean_env()
    port = free_port()
    demo = Running([str(venv_bin / "tongban"), "demo", "--port", str(port)], empty_dir, env)
    try:
        assert demo.wait_status(f"http://127.0.0.1:{port}/readyz") == 200
        # The partner command exactly as printed; it names the installed `tongban`.
        words = shlex.split(demo.wait_line(" partner submit "))
        assert Path(words[0]) == venv_bin / "tongban"
        result = subprocess.run(
            words,
            cwd=empty_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["status"] == "received"  # what the gateway answers with 202 Accepted
    finally:
        demo.stop()
    assert demo.process.returncode == 0, demo.output()
    assert (empty_dir / "var" / "tongban.db").is_file()


def test_installed_serve_starts_with_no_config_from_an_empty_directory(
    venv_bin: Path, empty_dir: Path
) -> None:
    """Defaults only (the port aside): data under ./var, the packaged catalogue, both said first."""
    port = free_port()
    env = {
        **_clean_env(),
        "TONGBAN_SERVER__PORT": str(port),
        # The one secret serve cannot default: every key at rest is encrypted under it.
        "TONGBAN_SECURITY__KEY_PASSPHRASE": "installed-wheel test passphrase",
    }
    serve = Running([str(venv_bin / "tongban"), "serve"], empty_dir, env)
    try:
        assert serve.wait_status(f"http://127.0.0.1:{port}/healthz") == 200
        starting = json.loads(serve.wait_line('"gateway.starting"'))
    finally:
        serve.stop()
    assert serve.process.returncode == 0, serve.output()
    assert starting["data_dir"] == str((empty_dir / "var").resolve())
    assert starting["catalog_source"] == "packaged"
    assert Path(starting["catalog"]).is_relative_to(venv_bin.parent)
    assert (Path(starting["catalog"]) / "regions.toml").is_file()
    assert (empty_dir / "var" / "tongban.db").is_file()
