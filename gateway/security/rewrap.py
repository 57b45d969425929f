"""``tongban keys rewrap``: re-seal personal data under the active PII key.

After a new PII key becomes active (``pii.active_key``, then SIGHUP), new writes use
it and older rows still open with their own key id. Rewrap moves the older rows, so
the old key can eventually be retired. It runs beside the gateway, in batches: it
reads a batch, re-seals it outside any transaction (no crypto while a write
transaction is open), then writes each row only if it is still what was read
(another process may have purged or changed it). Resumable by construction: a row
already under the active key is never selected again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.security.pii import PiiCipher
from gateway.store import Row, Store

__all__ = ["SEALED_COLUMNS", "SealedColumn", "remaining", "rewrap"]


@dataclass(frozen=True)
class SealedColumn:
    """A column holding `PiiCipher.seal` output, and what each value is bound to."""

    table: str
    column: str
    key: str
    bound_to: Callable[[Row], str]

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


SEALED_COLUMNS = (
    SealedColumn("applications", "personal", "id", lambda r: str(r["id"])),
    SealedColumn("applications", "submission_body", "id", lambda r: f"submission:{r['id']}"),
    SealedColumn("deliveries", "envelope", "id", lambda r: str(r["id"])),
    SealedColumn("ratings", "comment", "application_id",
                 lambda r: f"rating:{r['application_id']}"),
)  # fmt: skip


def _stale(column: SealedColumn) -> str:
    # substr, not LIKE: a key id may hold "_", a LIKE wildcard.
    c = column.column
    return f"{c} IS NOT NULL AND {c} <> '' AND substr({c}, 1, :n) <> :prefix"


async def remaining(store: Store, cipher: PiiCipher) -> dict[str, int]:
    """How many values of each sealed column are not under the active key."""
    prefix = f"v1.{cipher.active_key_id}."
    counts: dict[str, int] = {}
    async with store.transaction() as conn:
        for column in SEALED_COLUMNS:
            row = await conn.fetch_one(
                f"SELECT COUNT(*) AS n FROM {column.table} WHERE {_stale(column)}",  # noqa: S608 - our own names
                {"n": len(prefix), "prefix": prefix},
            )
            counts[column.name] = 0 if row is None else int(row["n"])
    return counts


async def rewrap(
    store: Store,
    cipher: PiiCipher,
    *,
    batch: int = 200,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Re-seal every value not under the active key; return how many per column.

    `progress(column, done)` is called after each batch. Raises `PiiError` for a
    value no configured key opens (nothing of that batch is written).
    """
    prefix = f"v1.{cipher.active_key_id}."
    done: dict[str, int] = {}
    for column in SEALED_COLUMNS:
        done[column.name] = 0
        after = ""
        select = (
            f"SELECT {column.key}, {column.column} AS sealed FROM {column.table} "  # noqa: S608 - our own names
            f"WHERE {_stale(column)} AND {column.key} > :after ORDER BY {column.key} LIMIT :limit"
        )
        update = (
            f"UPDATE {column.table} SET {column.column} = :new "  # noqa: S608 - our own names
            f"WHERE {column.key} = :key AND {column.column} = :old"
        )
        while True:
            async with store.transaction() as conn:
                rows = await conn.fetch_all(
                    select, {"n": len(prefix), "prefix": prefix, "after": after, "limit": batch}
                )
            if not rows:
                break
            changes = []
            for row in rows:
                bound = column.bound_to(row)
                value = cipher.open(str(row["sealed"]), bound_to=bound)
                changes.append(
                    {
                        "key": row[column.key],
                        "old": row["sealed"],
                        "new": cipher.seal(value, bound_to=bound),
                    }
                )
            async with store.transaction() as conn:
                for change in changes:
                    done[column.name] += await conn.execute(update, change)
            after = str(rows[-1][column.key])
            if progress is not None:
                progress(column.name, done[column.name])
    return done
