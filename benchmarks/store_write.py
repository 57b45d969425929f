"""Store write throughput: single-row insert transactions and 100-row execute_many.

Runs on SQLite (synchronous=full and normal, in a temporary directory) and on
PostgreSQL (a temporary database, created and dropped, on the server named by
``--postgres-dsn``, default env ``TONGBAN_BENCH_POSTGRES_DSN`` or the test server).
Prints the median of ``--runs`` runs for each figure.

    .venv/bin/python benchmarks/store_write.py [--transactions 500] [--batches 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.store import SQLiteStore, Store
from gateway.store.postgres import PostgresStore

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
CREATE = "CREATE TABLE bench (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"
INSERT = "INSERT INTO bench (id, body) VALUES (:id, :body)"
BATCH = 100
BODY = "x" * 200  # about the size of a delivery row's small fields

Opener = Callable[[], Awaitable[Store]]


async def single_row_transactions(store: Store, count: int, start: int) -> float:
    """Transactions per second, each inserting and committing one row."""
    began = time.perf_counter()
    for i in range(start, start + count):
        async with store.transaction() as conn:
            await conn.execute(INSERT, {"id": i, "body": BODY})
    return count / (time.perf_counter() - began)


async def batched_inserts(store: Store, batches: int, start: int) -> float:
    """Milliseconds per transaction inserting `BATCH` rows with one execute_many."""
    began = time.perf_counter()
    for b in range(batches):
        rows = [{"id": start + b * BATCH + i, "body": BODY} for i in range(BATCH)]
        async with store.transaction() as conn:
            await conn.execute_many(INSERT, rows)
    return (time.perf_counter() - began) * 1000 / batches


async def measure(open_store: Opener, args: argparse.Namespace) -> tuple[float, float]:
    """Median tx/s and median ms per 100-row batch over `args.runs` fresh tables."""
    tps, batch_ms = [], []
    store = await open_store()
    try:
        for _ in range(args.runs):
            async with store.transaction() as conn:
                await conn.execute_script(f"DROP TABLE IF EXISTS bench; {CREATE};")
            tps.append(await single_row_transactions(store, args.transactions, 0))
            batch_ms.append(await batched_inserts(store, args.batches, args.transactions))
    finally:
        await store.aclose()
    return statistics.median(tps), statistics.median(batch_ms)


@asynccontextmanager
async def temporary_database(maintenance_dsn: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(maintenance_dsn, timeout=5)
    name = f"tb_bench_{uuid.uuid4().hex[:8]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(maintenance_dsn)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> None:
    print(
        f"{args.transactions} single-row transactions and {args.batches} x {BATCH}-row "
        f"execute_many per run; median of {args.runs} runs"
    )
    print(f"{'backend':<26} {'1-row tx/s':>12} {'100-row batch ms':>18} {'rows/s':>10}")

    def report(label: str, tps: float, ms: float) -> None:
        print(f"{label:<26} {tps:>12,.0f} {ms:>18.2f} {BATCH * 1000 / ms:>10,.0f}")

    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("full", "normal"):
            path = Path(tmp) / f"bench-{sync}.db"

            async def open_sqlite(path: Path = path, sync: str = sync) -> Store:
                return await SQLiteStore.open(path, synchronous=sync)

            report(f"sqlite synchronous={sync}", *await measure(open_sqlite, args))
    if args.no_postgres:
        return
    async with temporary_database(args.postgres_dsn) as dsn:

        async def open_postgres() -> Store:
            return await PostgresStore.open(dsn, min_size=1, max_size=2)

        report("postgresql", *await measure(open_postgres, args))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=500)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgres-dsn", default=os.environ.get("TONGBAN_BENCH_POSTGRES_DSN", DEFAULT_DSN)
    )
    parser.add_argument("--no-postgres", action="store_true")
    asyncio.run(main(parser.parse_args()))
