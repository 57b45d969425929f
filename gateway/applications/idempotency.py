"""Idempotency keys: a retried request is answered with the first answer.

A key is kept per caller (`scope`) with a hash of the request; the answer is kept
once the action succeeded, in its own transaction. `stored_answer` only reads;
`remember_answer` only writes (a second writer of the same key changes nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.store import Row, Store


async def stored_answer(store: Store, scope: str, key: str) -> Row | None:
    """Reads only: the ``request_hash``, ``status_code`` and ``response`` kept for `key`."""
    async with store.read() as conn:
        return await conn.fetch_one(
            "SELECT request_hash, status_code, response FROM idempotency_keys "
            "WHERE scope = :scope AND key = :key",
            {"scope": scope, "key": key},
        )


async def remember_answer(
    store: Store,
    scope: str,
    key: str,
    *,
    request_hash: str,
    application_id: str,
    status: int,
    response: str,
) -> None:
    """Writes: keep the answer to `key`, unless one is kept already."""
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, application_id, "
            "status_code, response, created_at) VALUES (:scope, :key, :hash, :app, "
            ":status, :response, :now) ON CONFLICT (scope, key) DO NOTHING",
            {
                "scope": scope,
                "key": key,
                "hash": request_hash,
                "app": application_id,
                "status": status,
                "response": response,
                "now": datetime.now(UTC).isoformat(),
            },
        )
