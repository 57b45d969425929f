"""How fast the relay drains its outbox into a real sandbox, on this machine.

N deliveries are written straight into the outbox (bypassing intake, which is
measured by benchmarks/intake.py); then a RelayWorker with the real Shenzhen adapter,
the shared aiohttp client and the real store delivers them to the Shenzhen sandbox
(in another process, so the two don't share a core's event loop). Reported: deliveries/s
to drain, median of several runs, per store setting.

    .venv/bin/python benchmarks/relay_throughput.py [--count 2000] [--runs 3]

PostgreSQL runs in a throwaway database on the local server (left for inspection).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from support.loopback import free_port

from adapters.http import AiohttpClient
from adapters.shenzhen import create
from gateway.adapters_registry import adapter_config
from gateway.applications.journal import Journal
from gateway.applications.relay_outcomes import ApplicationOutcomes
from gateway.audit import AuditLog
from gateway.catalog.models import Channel, HandlingMode, TrustLevel
from gateway.config import RegionRelaySettings, Settings, load_settings
from gateway.envelope import Envelope, EnvelopeMaterial, Party, ResultHandOver, SubmissionBody
from gateway.observability import configure_logging
from gateway.outbox import enqueue, open_envelope
from gateway.relay.seam import DeliveryListener
from gateway.relay.service import build_lane
from gateway.relay.testing import RecordingListener
from gateway.relay.worker import RelayWorker
from gateway.security.pii import PiiCipher, load_keys
from gateway.store import Row, SQLiteStore, Store, bundled_migrations, migrate

PASSPHRASE = "benchmark passphrase"  # noqa: S105 - a throwaway PII ring in a temp dir


SANDBOX_PORT = free_port()  # never a stale sandbox from an earlier run
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def envelope(application_id: str) -> Envelope:
    material = EnvelopeMaterial(
        material_id="id_card",
        material_name="居民身份证",
        provided=True,
        trust_level=TrustLevel.B,
        attachments=("a" * 64,),
    )
    return Envelope(
        envelope_id=str(uuid.uuid4()),
        idempotency_key=f"{application_id}:submission",
        application_id=application_id,
        request_id=uuid.uuid4().hex,
        item_code="SZ-C-0001",
        receiving_region="dongguan",
        competent_region="shenzhen",
        created_at=datetime.now(UTC),
        body=SubmissionBody(
            handling_mode=HandlingMode.PROXY,
            channel=Channel.WINDOW,
            applicant=Party(
                kind="person", name="王小明", id_type="resident_id", id_number="11010519491231002X"
            ),
            materials=(material,),
            delivery=ResultHandOver(method="window_pickup"),
        ),
    )


async def fill(store: Store, cipher: PiiCipher, count: int) -> None:
    now = datetime.now(UTC).isoformat()
    async with store.transaction() as conn:
        for n in range(count):
            application_id = f"bench-{n:06d}"
            await conn.execute(
                "INSERT INTO applications (id, request_id, item_code, receiving_region,"
                " competent_region, channel, handling_mode, applicant_kind, applicant_index,"
                " material_fingerprint, personal, masked, materials, status, anticipate_type,"
                " promise_type, submitted_by, created_at, updated_at) VALUES (:id, 'r',"
                " 'SZ-C-0001', 'dongguan', 'shenzhen', 'window', 'proxy', 'person', 'i', 'f',"
                " 'sealed', '{}', '[]', 'received', 'working_day', 'working_day', 'bench', :now,"
                " :now)",
                {"id": application_id, "now": now},
            )
            await enqueue(conn, envelope(application_id), cipher=cipher)


async def create_database() -> str:
    """A throwaway database on the local server; its DSN."""
    import asyncpg  # the [postgres] extra

    name = f"tb_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(dsn: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


async def open_bench_store(tmp: str, backend: str) -> tuple[Store, str | None]:
    """The store to measure, and the throwaway PostgreSQL database's DSN (to drop)."""
    dsn: str | None = None
    if backend == "postgres":
        from gateway.store.postgres import PostgresStore

        dsn = await create_database()
        store: Store = await PostgresStore.open(dsn, min_size=4, max_size=32)
    else:
        store = await SQLiteStore.open(Path(tmp) / "bench.db", synchronous=backend)
    try:
        await migrate(store, bundled_migrations(store.backend))
    except BaseException:
        await store.aclose()
        raise
    return store, dsn


def sandbox_settings(port: int) -> Settings:
    """Default settings with Shenzhen's adapter pointed at the sandbox on `port`."""
    shenzhen = {"url": f"http://127.0.0.1:{port}"}
    return load_settings(environ={}, overrides={"adapters": {"shenzhen": shenzhen}})


def shenzhen_worker(
    store: Store,
    http: AiohttpClient,
    cipher: PiiCipher,
    settings: Settings,
    concurrency: int,
    listener: DeliveryListener,
    *,
    instance: str,
) -> RelayWorker:
    """A relay worker for the Shenzhen sandbox alone, polling fast."""
    adapter = create(adapter_config(settings, "shenzhen"), http)
    lane = build_lane(RegionRelaySettings(concurrency=concurrency), ZoneInfo("Asia/Shanghai"))

    def opener(row: Row) -> Envelope:
        return open_envelope(row, cipher)

    return RelayWorker(
        store,
        {"shenzhen": adapter},
        {"shenzhen": lane},
        listener,
        opener=opener,
        instance=instance,
        poll_interval=0.01,
    )


async def drain_as_worker(dsn: str, port: int, concurrency: int, keys_dir: str) -> None:
    """One relay worker process draining a shared PostgreSQL outbox (scale-out mode)."""
    from gateway.store.postgres import PostgresStore

    configure_logging("json", "warning")
    store = await PostgresStore.open(dsn, min_size=2, max_size=16)
    try:
        cipher = PiiCipher(load_keys({}, None, None, Path(keys_dir), PASSPHRASE))
        settings = sandbox_settings(port)
        http = AiohttpClient(timeout=10.0, connect_timeout=3.0, pool_size=200)
        try:
            worker = shenzhen_worker(
                store,
                http,
                cipher,
                settings,
                concurrency,
                ApplicationOutcomes(Journal(AuditLog("postgres"), cipher)),
                instance=f"bench-{uuid.uuid4().hex[:6]}",
            )
            task = asyncio.create_task(worker.run())
            while True:
                async with store.transaction() as conn:
                    row = await conn.fetch_one(
                        "SELECT COUNT(*) AS n FROM deliveries WHERE state <> 'delivered'"
                    )
                if row is not None and row["n"] == 0:
                    break
                await asyncio.sleep(0.02)
            await worker.stop(1.0)
            task.cancel()
        finally:
            await http.aclose()
    finally:
        await store.aclose()


async def scale_out_run(count: int, processes: int, concurrency: int) -> float:
    """`processes` gateway relay workers on one PostgreSQL outbox; deliveries/s overall."""
    from gateway.store.postgres import PostgresStore

    dsn = await create_database()
    with tempfile.TemporaryDirectory() as keys_dir:
        store = await PostgresStore.open(dsn, min_size=2, max_size=8)
        try:
            await migrate(store, bundled_migrations("postgres"))
            cipher = PiiCipher(load_keys({}, None, None, Path(keys_dir), PASSPHRASE))
            await fill(store, cipher, count)
        finally:
            await store.aclose()
        started = time.perf_counter()
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--drain",
                dsn,
                str(SANDBOX_PORT),
                str(concurrency),
                keys_dir,
            )
            for _ in range(processes)
        ]
        for process in workers:
            await process.wait()
        rate = count / (time.perf_counter() - started)
    await drop_database(dsn)
    return rate


async def one_run(count: int, backend: str, concurrency: int, *, bookkeeping: bool = True) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store, dsn = await open_bench_store(tmp, backend)
        try:
            cipher = PiiCipher(load_keys({}, None, None, Path(tmp), PASSPHRASE))
            await fill(store, cipher, count)
            settings = sandbox_settings(SANDBOX_PORT)
            http = AiohttpClient(timeout=10.0, connect_timeout=3.0, pool_size=200)
            try:
                worker = shenzhen_worker(
                    store,
                    http,
                    cipher,
                    settings,
                    concurrency,
                    ApplicationOutcomes(Journal(AuditLog(store.backend), cipher))
                    if bookkeeping
                    else RecordingListener(),
                    instance="bench",
                )
                started = time.perf_counter()
                task = asyncio.create_task(worker.run())
                while True:
                    async with store.transaction() as conn:
                        row = await conn.fetch_one(
                            "SELECT COUNT(*) AS n FROM deliveries WHERE state = 'delivered'"
                        )
                    if row is not None and row["n"] >= count:
                        break
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
                await worker.stop(1.0)
                task.cancel()
            finally:
                await http.aclose()
        finally:
            await store.aclose()
            if dsn is not None:
                await drop_database(dsn)
        return count / elapsed


async def wait_for_sandbox(sandbox: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            if sandbox.poll() is not None:
                raise SystemExit(f"sandbox exited with {sandbox.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{SANDBOX_PORT}/_sandbox/cases"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise SystemExit("sandbox did not start")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="also measure N relay processes sharing one PostgreSQL outbox (scale-out)",
    )
    parser.add_argument("--drain", nargs=4, help=argparse.SUPPRESS)  # internal: one worker
    parser.add_argument(
        "--no-bookkeeping",
        action="store_true",
        help="skip the applications' status/history/audit writes (to see what they cost)",
    )
    args = parser.parse_args()
    configure_logging("json", "warning")  # as in production: info lines are not the subject
    if args.drain:
        dsn, port, concurrency, keys_dir = args.drain
        await drain_as_worker(dsn, int(port), int(concurrency), keys_dir)
        return
    # Our own CLI, started once before anything is measured.
    sandbox = subprocess.Popen(  # noqa: ASYNC220, S603
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "sandbox",
            "shenzhen",
            "--port",
            str(SANDBOX_PORT),
            "--review-delay",
            "3600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for_sandbox(sandbox)
        for backend in ("full", "normal", "postgres"):
            rates = [await one_run(args.count, backend, args.concurrency) for _ in range(args.runs)]
            label = "postgresql" if backend == "postgres" else f"sqlite synchronous={backend}"
            print(
                f"{label:<25} concurrency={args.concurrency}: "
                f"median {statistics.median(rates):7.0f} deliveries/s "
                f"(runs: {', '.join(f'{r:.0f}' for r in rates)}; {args.count} each)"
            )
        for processes in range(1, args.processes + 1):
            rates = [
                await scale_out_run(args.count, processes, args.concurrency)
                for _ in range(args.runs)
            ]
            print(
                f"postgresql, {processes} relay process(es), concurrency={args.concurrency} each: "
                f"median {statistics.median(rates):7.0f} deliveries/s "
                f"(runs: {', '.join(f'{r:.0f}' for r in rates)}; {args.count} each)"
            )
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    asyncio.run(main())
