"""The PostgreSQL half of the audit migration, run for real: triggers and gap-free appends.

The gateway's PostgreSQL store is built elsewhere; this drives the SQL directly
through asyncpg with a minimal `Connection` (named parameters to ``$n``), in a
uniquely named temporary database that is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from gateway.audit import AuditLog, Verifier
from gateway.store import Params, Row, bundled_migrations

asyncpg = pytest.importorskip("asyncpg")

DSN = os.environ.get("TONGBAN_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
pytestmark = pytest.mark.postgres
_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


class PgConnection:
    """Just enough of `gateway.store.Connection` over one asyncpg connection."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @staticmethod
    def _positional(sql: str, params: Params | None) -> tuple[str, list[Any]]:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        text = _NAMED.sub(number, sql)
        return text, [(params or {})[name] for name in names]

    async def execute(self, sql: str, params: Params | None = None) -> int:
        text, args = self._positional(sql, params)
        status = await self._conn.execute(text, *args)
        return int(status.split()[-1]) if status.split()[-1].isdigit() else 0

    async def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        for one in params:
            await self.execute(sql, one)

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        text, args = self._positional(sql, params)
        row = await self._conn.fetchrow(text, *args)
        return None if row is None else dict(row)

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        text, args = self._positional(sql, params)
        return [dict(row) for row in await self._conn.fetch(text, *args)]

    async def execute_script(self, script: str) -> None:
        await self._conn.execute(script)


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A fresh database with the bundled PostgreSQL migrations; dropped afterwards."""
    try:
        admin = await asyncpg.connect(DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL at {DSN}: {exc}")
    name = f"tongban_audit_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = DSN.rsplit("/", 1)[0] + "/" + name
    try:
        conn = await asyncpg.connect(dsn)
        try:
            for migration in bundled_migrations("postgres"):
                await conn.execute(migration.sql)
        finally:
            await conn.close()
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_concurrent_appends_from_many_sessions_have_no_gaps(database: str) -> None:
    log = AuditLog("postgres")
    pool = await asyncpg.create_pool(database, min_size=8, max_size=8)
    try:

        async def append(i: int) -> int:
            async with pool.acquire() as conn, conn.transaction():
                position = await log.append(
                    PgConnection(conn), kind="test.appended", actor="system", data={"i": i}
                )
                await asyncio.sleep(0)  # let others queue on the advisory lock
                return position.seq

        seqs = await asyncio.gather(*(append(i) for i in range(80)))
        assert sorted(seqs) == list(range(80))
        async with pool.acquire() as conn:
            rows = [dict(r) for r in await conn.fetch("SELECT * FROM audit_entries ORDER BY seq")]
    finally:
        await pool.close()
    verifier = Verifier([], {})
    assert verifier.add(rows)
    assert verifier.finish().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET kind = 'forged.kind'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "UPDATE audit_checkpoints SET time = 'x'",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ],
)
async def test_the_database_refuses_to_change_or_remove_rows(database: str, statement: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction():
            await AuditLog("postgres").append(
                PgConnection(conn), kind="test.appended", actor="system"
            )
            await conn.execute(
                "INSERT INTO audit_checkpoints VALUES (1, $1, 't', 'o', 'k', $2)",
                bytes(32),
                b"sig",
            )
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_entries") == 1
        assert await conn.fetchval("SELECT count(*) FROM audit_checkpoints") == 1
    finally:
        await conn.close()
