"""Single-use signature nonces, kept in the store.

Why the store rather than memory: with PostgreSQL several gateway processes serve
the same partners, and a nonce seen by one must be refused by all; a restart must
not reopen the replay window either. Each nonce is kept only until the signature
carrying it would be refused as stale anyway (``created`` + skew, or ``expires``),
so the table stays as small as the traffic of a few minutes. Expired rows are
deleted at most once a minute, in the same transaction as an insert.

A route that writes (intake) records its request's nonce in its own transaction
(a `NonceClaim`), so one durable commit covers both; if that transaction never
commits, the nonce is recorded alone afterwards, as every other route does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from gateway.store import Connection, Store

_PRUNE_EVERY = 60.0

log = structlog.get_logger(__name__)


class NonceStore:
    """Remembers nonces per partner; `remember` says whether one is new."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._next_prune = 0.0

    async def remember(self, partner_id: str, nonce: str, expires_at: int) -> bool:
        """Record `nonce` for `partner_id` until `expires_at` (Unix s); False if seen before.

        Raises `StoreError` if the store fails: the caller must then refuse the
        request, since it cannot tell a replay from a first use.
        """
        async with self._store.transaction() as conn:
            return await self.record(conn, partner_id, nonce, expires_at)

    async def record(self, conn: Connection, partner_id: str, nonce: str, expires_at: int) -> bool:
        """`remember`, on the caller's transaction (it commits or rolls back with it)."""
        now = self._clock()
        if now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY
            pruned = await conn.execute(
                "DELETE FROM signature_nonces WHERE expires_at < :now", {"now": int(now)}
            )
            if pruned:
                log.debug("security.nonces_pruned", count=pruned)
        inserted = await conn.execute(
            "INSERT INTO signature_nonces (partner_id, nonce, expires_at) "
            "VALUES (:partner_id, :nonce, :expires_at) "
            "ON CONFLICT (partner_id, nonce) DO NOTHING",
            {"partner_id": partner_id, "nonce": nonce, "expires_at": expires_at},
        )
        return inserted == 1


class NonceReplayed(Exception):
    """The claimed nonce was seen before: the request is a replay."""


@dataclass
class NonceClaim:
    """A verified request's nonce, to be recorded by the transaction acting on it.

    Call `record` inside that transaction and `committed` once it has committed;
    the authenticator records a claim left uncommitted on its own.
    """

    nonces: NonceStore
    partner_id: str
    nonce: str
    expires_at: int
    done: bool = False

    async def record(self, conn: Connection) -> None:
        """Record the nonce on `conn`; raise `NonceReplayed` (roll back!) if seen before."""
        if not await self.nonces.record(conn, self.partner_id, self.nonce, self.expires_at):
            raise NonceReplayed(self.nonce)

    def committed(self) -> None:
        self.done = True
