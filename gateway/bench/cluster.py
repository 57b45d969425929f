"""The processes under test: `tongban serve` and `tongban sandbox`, as in production.

`Cluster` writes a settings file (TOML) for a throwaway data directory, a partner
key made for the run and the regions' sandboxes on free loopback ports, starts each
sandbox and the gateway as its own process, and waits until they answer. With
``processes > 1`` (PostgreSQL only: SQLite has one writer) the gateway runs as
``tongban serve --workers N``, as an operator would run it: one port, N worker
processes accepting on the socket their supervising parent bound
(`gateway.workers`). `gateway_pids` is the parent and its workers, read afresh
from /proc each time, so CPU and peak RSS cover every worker (and a restarted one).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from gateway.bench.meter import with_children
from gateway.demo import DemoSandboxes
from gateway.security import thumbprint
from gateway.security.keys import b64url, raw_public

__all__ = ["REPO", "Cluster", "free_port", "toml", "wait_until_up"]

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "tests" / "data" / "applications_catalogue"
REGIONS = ("shenzhen", "dongguan", "zhangjiagang", "peer")
PASSPHRASE = "tongban bench: keys in a temporary directory"  # noqa: S105 - throwaway keys
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def toml(values: Mapping[str, Any], prefix: str = "") -> str:
    """`values` as TOML: scalars first, then sub-tables (strings as JSON strings,
    which TOML basic strings accept)."""
    lines, tables = [], []
    for key, value in values.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            tables.extend((f"[{key}]", item) for item in value)
        else:
            lines.append(f"{key} = {_scalar(value)}")
    text = "\n".join(lines) + "\n"
    for key, table in tables:
        name = f"{prefix}{key}" if not key.startswith("[") else f"[{prefix}{key[1:-1]}]"
        text += f"\n[{name}]\n" + toml(table, f"{prefix}{key.strip('[]')}.")
    return text


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 60) -> None:
    """Poll `url` until it answers 2xx; fail early if `process` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL we made
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout:g} s")


BENCH_LANE = 64
"""Relay calls in flight per region during the bench (`relay.default.concurrency`)."""


@dataclass
class Cluster:
    """The gateway (one process, or a parent and `processes` workers) and region
    sandboxes for one run; use as a context manager."""

    backend: str = "sqlite"
    processes: int = 1
    # A region reviews in hours, not during the run. At 1 s every delivered case came
    # back within the run as three pushed status changes, which the gateway handled
    # meanwhile: the relay's rows counted that work as the relay's (2.1 vs 1.1 ms of
    # gateway CPU per delivery), and the intake rows had it running beside them.
    review_delay: float = 3600.0
    relay_enabled: bool = True
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tongban-bench-")))
    partner_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    port: int = 0
    tongban: str = str(Path(sys.executable).with_name("tongban"))
    sandbox_urls: dict[str, str] = field(default_factory=dict)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _gateways: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _database: str | None = None
    _store_url: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway_pids(self) -> list[int]:
        """The gateway's processes now: with ``--workers``, the parent and its workers."""
        return with_children(process.pid for process in self._gateways)

    def store_pids(self) -> list[int]:
        """The PostgreSQL server processes serving the run's database now (its backends,
        on this host); none on SQLite, whose work is inside the gateway's processes."""
        if self._database is None:
            return []
        import asyncio

        return asyncio.run(_backend_pids(self._database))

    @property
    def partner_private(self) -> bytes:
        return self.partner_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _settings(self, port: int, store_url: str | None) -> dict[str, Any]:
        key = self.partner_key.public_key()
        adapters = DemoSandboxes(urls=dict(self.sandbox_urls)).settings_overrides()
        settings: dict[str, Any] = {
            "data_dir": str(self.work / "var"),
            "server": {"host": "127.0.0.1", "port": port, "max_connections_per_ip": 0},
            "catalog": {"directory": str(CATALOGUE)},
            "store": {"sqlite_synchronous": "full"},
            "log": {"format": "json", "level": "info"},
            "security": {
                "key_passphrase": PASSPHRASE,
                "partners": {
                    "bench": {
                        "name": "Benchmark partner",
                        "items": ["*"],
                        "rate_limit_per_minute": 100_000_000,
                        "rate_limit_burst": 1_000_000,
                        "keys": [{"keyid": thumbprint(key), "public_key": b64url(raw_public(key))}],
                    }
                },
            },
            "adapters": {"callback_base_url": self.url, **adapters},
            # 64 calls in flight per region (the default is a polite 16): the sandbox
            # answers ~20,000 requests/s, so the relay, not the region, is measured.
            "relay": {"enabled": self.relay_enabled, "default": {"concurrency": BENCH_LANE}},
        }
        if store_url is not None:
            settings["store"]["url"] = store_url
        return settings

    def _start(self) -> None:
        self.port = free_port()
        self.sandbox_urls = {region: f"http://127.0.0.1:{free_port()}" for region in REGIONS}
        store_url = self._create_database() if self.backend == "postgres" else None
        self._store_url = store_url
        config = self.work / "sandboxes.toml"
        config.write_text(toml(self._settings(self.port, store_url)), "utf-8")
        tongban = self.tongban
        for region, url in self.sandbox_urls.items():
            self._spawn(
                [tongban, "sandbox", region, "--config", str(config),
                 "--port", url.rsplit(":", 1)[1],
                 "--review-delay", str(self.review_delay)],
                f"sandbox-{region}",
            )  # fmt: skip
        for url in self.sandbox_urls.values():
            wait_until_up(f"{url}/_sandbox/cases", None)
        self._write_gateway_settings()
        self._start_gateways()

    def _write_gateway_settings(self) -> None:
        self.config.write_text(toml(self._settings(self.port, self._store_url)), "utf-8")

    def restart(self, *, relay: bool) -> None:
        """Restart the gateways (same ports and store) with their relay on or off."""
        with self.stopped():
            self.relay_enabled = relay
            self._write_gateway_settings()

    @property
    def config(self) -> Path:
        """The gateway's settings file."""
        return self.work / "gateway-0.toml"

    def _start_gateways(self, timeout: float = 60) -> None:
        command = [self.tongban, "serve", "--config", str(self.config)]
        if self.processes > 1:
            command += ["--workers", str(self.processes)]
        process = self._spawn(command, "gateway")
        self._gateways.append(process)
        if self.processes > 1:
            # /healthz answers once the first worker listens: wait for all of them.
            _wait_for_log(self.work / "gateway.log", "workers.worker_ready", self.processes,
                          process, timeout)  # fmt: skip
        wait_until_up(f"{self.url}/healthz", process, timeout)

    @contextlib.contextmanager
    def stopped(self, start_timeout: float = 60) -> Iterator[None]:
        """The gateways stopped (SIGTERM, as an operator would) for the block, then
        started again on the same ports and store (each given `start_timeout` s)."""
        for process in self._gateways:
            process.terminate()
            process.wait(30)
            self._children.remove(process)
        self._gateways.clear()
        yield
        self._start_gateways(start_timeout)

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        with (self.work / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(args, stdout=log, stderr=log)  # noqa: S603 - our CLI
        self._children.append(process)
        return process

    def _create_database(self) -> str:
        self._database = f"tb_bench_{uuid.uuid4().hex[:8]}"
        _postgres_admin(f'CREATE DATABASE "{self._database}"')
        return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{self._database}"

    def stop(self) -> None:
        for process in reversed(self._children):
            process.terminate()
        for process in self._children:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self._children.clear()
        if self._database is not None:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
            self._database = None
        shutil.rmtree(self.work, ignore_errors=True)


def _wait_for_log(
    path: Path, event: str, count: int, process: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    """Wait until the JSON log at `path` holds `count` lines of `event`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with status {process.returncode}")
        text = path.read_text("utf-8", errors="replace") if path.exists() else ""
        if text.count(f'"event": "{event}"') + text.count(f'"event":"{event}"') >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not show {count} × {event} in {timeout:g} s")


async def _backend_pids(database: str) -> list[int]:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]


async def postgres_admin(statement: str) -> None:
    """Run `statement` on the PostgreSQL server's maintenance database."""
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _postgres_admin(statement: str) -> None:
    import asyncio

    asyncio.run(postgres_admin(statement))
