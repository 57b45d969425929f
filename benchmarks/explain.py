"""EXPLAIN every statement the request path runs, on SQLite and PostgreSQL.

Records each distinct SQL text (with the parameters of its first use) while the
intake benchmark runs a few signed applications through the gateway (its relay
claims and settles deliveries meanwhile), then shows each statement's plan on a
freshly migrated database of each backend. PostgreSQL plans are taken with
``enable_seqscan = off``: an empty table is always scanned, so this asks whether
an index *can* serve the statement. A line marked ``!`` scans a whole table.

    .venv/bin/python benchmarks/explain.py [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake

from gateway.store import SQLiteStore, bundled_migrations, migrate
from gateway.store.postgres import PostgresStore, rewrite_params
from gateway.store.sqlite_threads import ThreadedDatabase

Recorded = dict[str, dict[str, Any]]


def record_statements() -> Recorded:
    """Run the intake benchmark briefly; return each SQL text it ran, first params."""
    seen: Recorded = {}
    originals = {
        name: getattr(ThreadedDatabase, name) for name in ("execute", "fetch_one", "fetch_all")
    }

    def recording(name: str) -> Any:
        def method(self: ThreadedDatabase, sql: str, params: Any) -> Any:
            seen.setdefault(" ".join(sql.split()), dict(params or {}))
            return originals[name](self, sql, params)

        return method

    for name in originals:
        setattr(ThreadedDatabase, name, recording(name))
    try:
        asyncio.run(intake.main(40, 4, "full"))
    finally:
        for name, original in originals.items():
            setattr(ThreadedDatabase, name, original)
    return seen


def worth_explaining(sql: str) -> bool:
    head = sql.split(None, 1)[0].upper()
    return head in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} and "sqlite_" not in sql


async def sqlite_plans(statements: Recorded) -> dict[str, str]:
    plans = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = await SQLiteStore.open(Path(tmp) / "explain.db")
        try:
            await migrate(store, bundled_migrations("sqlite"))
            async with store.read() as conn:
                for sql, params in statements.items():
                    try:
                        rows = await conn.fetch_all(f"EXPLAIN QUERY PLAN {sql}", params)
                        plans[sql] = "; ".join(str(row["detail"]) for row in rows)
                    except Exception as exc:
                        plans[sql] = f"(error: {exc})"
        finally:
            await store.aclose()
    return plans


async def postgres_plans(statements: Recorded, dsn: str) -> dict[str, str]:
    admin = await asyncpg.connect(dsn)
    name = f"tb_explain_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    plans = {}
    try:
        url = urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))
        store = await PostgresStore.open(url)
        try:
            await migrate(store, bundled_migrations("postgres"))
        finally:
            await store.aclose()
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET enable_seqscan = off")
            for sql, params in statements.items():
                text, names = rewrite_params(sql)
                try:
                    async with conn.transaction():  # EXPLAIN of DML plans only; roll back anyway
                        rows = await conn.fetch(f"EXPLAIN {text}", *[params.get(n) for n in names])
                        plans[sql] = "; ".join(row[0].strip() for row in rows[:4])
                        raise _Rollback
                except _Rollback:
                    pass
                except Exception as exc:
                    plans[sql] = f"(error: {type(exc).__name__}: {exc})"
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return plans


class _Rollback(Exception):
    pass


def flagged(plan: str) -> bool:
    """A whole-table scan: SQLite ``SCAN t`` without an index, PostgreSQL ``Seq Scan``."""
    sqlite_scan = any(
        part.strip().startswith("SCAN") and "INDEX" not in part and "CONSTANT" not in part
        for part in plan.split(";")
    )
    return sqlite_scan or "Seq Scan" in plan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    statements = {s: p for s, p in record_statements().items() if worth_explaining(s)}
    lite = asyncio.run(sqlite_plans(statements))
    pg = asyncio.run(postgres_plans(statements, args.postgres))
    for sql in statements:
        mark = "!" if flagged(lite[sql]) or flagged(pg[sql]) else " "
        print(f"{mark} {sql[:160]}")
        print(f"    sqlite:   {lite[sql]}")
        print(f"    postgres: {pg[sql]}")
    print(f"{len(statements)} statements; '!' = a whole-table scan on a backend")


if __name__ == "__main__":
    main()
