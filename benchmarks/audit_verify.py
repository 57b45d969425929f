"""Audit log speed: append entries/s and verification entries/s on a large log.

Builds a temporary SQLite log of ``--entries`` entries (default 1,000,000) in the
real format (canonical bytes, chain, leaf hashes; written in bulk, since one
transaction per entry would take an hour on fsync alone), with a checkpoint every
100,000 entries, then times `verify_store` over all of it ``--runs`` times, and
appends through `AuditLog.append` (one transaction per entry, as the gateway does)
in ``--runs`` batches. Prints medians.

    .venv/bin/python benchmarks/audit_verify.py [--entries N] [--runs R] [--append N]
        [--workers 1,2]   (1 = the sequential verifier; more = worker processes, SQLite)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditLog, Ed25519CheckpointSigner, ProofService, Sealer, verify_store
from gateway.audit.canonical import canonical_json, entry_bytes
from gateway.audit.log import GENESIS_PREV, format_time
from gateway.audit.merkle import leaf_hash
from gateway.store import SQLiteStore, bundled_migrations, migrate

ORIGIN = "tongban:benchmark"
_INSERT = (
    "INSERT INTO audit_entries (seq, time, kind, application_id, request_id, trace_id, "
    "actor, region, data, prev_hash, leaf_hash) VALUES (:seq, :time, :kind, "
    ":application_id, :request_id, :trace_id, :actor, :region, :data, :prev_hash, :leaf_hash)"
)


def make_rows(start: int, count: int, prev: bytes) -> tuple[list[dict[str, object]], bytes]:
    from datetime import UTC, datetime

    now = format_time(datetime.now(UTC))
    rows = []
    for seq in range(start, start + count):
        row: dict[str, object] = {
            "seq": seq,
            "time": now,
            "kind": "application.received" if seq % 3 else "delivery.attempted",
            "application_id": f"app-{seq // 4:010d}",
            "request_id": f"{seq:032x}",
            "trace_id": f"{seq * 7:032x}",
            "actor": "partner:shenzhen" if seq % 2 else "staff:clerk17",
            "region": "shenzhen",
            "data": canonical_json(
                {"item": "11440300MB2C92050X44030000000001", "status": "received", "n": seq}
            ).decode(),
            "prev_hash": prev,
        }
        row["leaf_hash"] = prev = leaf_hash(entry_bytes(row))
        rows.append(row)
    return rows, prev


async def build(store: SQLiteStore, entries: int, sealer: Sealer) -> float:
    started = time.perf_counter()
    prev, chunk = GENESIS_PREV, 50_000
    for start in range(0, entries, chunk):
        rows, prev = await asyncio.to_thread(make_rows, start, min(chunk, entries - start), prev)
        async with store.transaction() as conn:
            await conn.execute_many(_INSERT, rows)
        if (start + chunk) % 100_000 == 0 or start + chunk >= entries:
            await sealer.seal()
    return time.perf_counter() - started


async def main(entries: int, runs: int, appends: int, workers: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await SQLiteStore.open(Path(tmp) / "audit.db")
        try:
            await migrate(store, bundled_migrations("sqlite"))
            signer = Ed25519CheckpointSigner(Ed25519PrivateKey.generate())
            sealer = Sealer(
                store,
                ProofService(store),
                signer,
                ORIGIN,
                every_entries=10**9,
                interval_seconds=3600,
            )
            seconds = await build(store, entries, sealer)
            print(f"built {entries:,} entries with checkpoints in {seconds:.1f} s")

            rates: dict[int, list[float]] = {count: [] for count in workers}
            for run in range(runs):
                for count in workers:  # interleaved, so the machine's noise hits each alike
                    report = await verify_store(
                        store, {signer.key_id: signer.public_key}, origin=ORIGIN, workers=count
                    )
                    if not report.ok or report.entries != entries:
                        raise SystemExit(f"verification failed: {report.to_json()}")
                    rates[count].append(report.entries / report.seconds)
                    print(
                        f"  verify run {run + 1}, {count} worker(s): {report.seconds:.2f} s, "
                        f"{rates[count][-1]:,.0f} entries/s"
                    )
            for count, found in rates.items():
                print(
                    f"verify (store, {entries:,} entries, {count} worker(s)): "
                    f"median {statistics.median(found):,.0f} entries/s"
                )

            log = AuditLog("sqlite")
            append_rates = []
            for run in range(runs):
                started = time.perf_counter()
                for i in range(appends):
                    async with store.transaction() as conn:
                        await log.append(
                            conn, kind="application.received", actor="partner:shenzhen",
                            application_id=f"bench-{run}-{i}", request_id=f"r{run}x{i}",
                            region="shenzhen", data={"status": "received", "n": i},
                        )  # fmt: skip
                append_rates.append(appends / (time.perf_counter() - started))
                print(f"  append run {run + 1}: {append_rates[-1]:,.0f} entries/s")
            print(
                f"append (one transaction each, synchronous=full, on a {entries:,}-entry log): "
                f"median {statistics.median(append_rates):,.0f} entries/s"
            )
        finally:
            await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--append", type=int, default=5_000)
    parser.add_argument(
        "--workers", default="1,2", help="verify with these worker counts (1: sequential)"
    )
    arguments = parser.parse_args()
    counts = [int(n) for n in arguments.workers.split(",")]
    asyncio.run(main(arguments.entries, arguments.runs, arguments.append, counts))
