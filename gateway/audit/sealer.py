"""The sealer: signs a checkpoint every N entries or T seconds, in the background.

`Sealer.run` is a long-lived task started by the app's cleanup context. Appends
only `nudge` it (a counter and an `asyncio.Event`: never a wait), so the log
keeps taking entries even if sealing is slow or failing; a failure is logged and
retried on the next round.

Before signing, the sealer checks that the log still hashes to the latest
checkpoint it signed (an O(log n) comparison): it never signs a history that was
rewritten underneath it, and says so loudly instead.

With several gateway processes on one PostgreSQL database each may seal; that is
harmless, because a checkpoint's tree size is its primary key and the root for a
size is fixed: the second insert for a size is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway.audit.checkpoints import Checkpoint, CheckpointSigner
from gateway.audit.log import format_time
from gateway.audit.proofs import ProofService
from gateway.errors import AuditError, TongbanError
from gateway.store import Connection, Store

__all__ = ["Sealer", "latest_checkpoint"]

log = structlog.get_logger("gateway.audit")

_INSERT = (
    "INSERT INTO audit_checkpoints (tree_size, root_hash, time, origin, key_id, signature) "
    "VALUES (:tree_size, :root_hash, :time, :origin, :key_id, :signature) "
    "ON CONFLICT (tree_size) DO NOTHING"
)
_LATEST = "SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
_SIZE = "SELECT seq FROM audit_entries ORDER BY seq DESC LIMIT 1"


async def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    """The checkpoint with the largest tree size, or None before the first."""
    row = await conn.fetch_one(_LATEST)
    return None if row is None else Checkpoint.from_row(row)


class Sealer:
    """Makes signed checkpoints of the log in `store`."""

    def __init__(
        self,
        store: Store,
        proofs: ProofService,
        signer: CheckpointSigner,
        origin: str,
        *,
        every_entries: int,
        interval_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._proofs = proofs
        self._signer = signer
        self.origin = origin
        self._every = every_entries
        self._interval = interval_seconds
        self._clock = clock
        self._appended = 0
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        """Note one append; wake the sealer once `every_entries` have accumulated."""
        self._appended += 1
        if self._appended >= self._every:
            self._wake.set()

    async def seal(self) -> Checkpoint | None:
        """Sign a checkpoint of the committed log, if it grew; return it (None if not).

        Raises `AuditError` if the log no longer matches the latest checkpoint,
        `StoreError` if the store fails.
        """
        # A transaction, not read(): nudges come from appends not yet committed, and
        # waiting for the writer is what lets this seal include them.
        async with self._store.transaction() as conn:
            tail = await conn.fetch_one(_SIZE)
            latest = await latest_checkpoint(conn)
        size = 0 if tail is None else tail["seq"] + 1
        if size == 0 or (latest is not None and latest.tree_size >= size):
            return None
        if latest is not None and await self._proofs.root(latest.tree_size) != latest.root_hash:
            log.error("audit.tampered", tree_size=latest.tree_size)
            raise AuditError(
                f"the audit log no longer matches checkpoint {latest.tree_size}; refusing to "
                "sign a rewritten history (run `tongban audit verify`)"
            )
        root = await self._proofs.root(size)
        checkpoint = Checkpoint(
            self.origin, size, root, format_time(self._clock()), self._signer.key_id
        ).signed_by(self._signer)
        async with self._store.transaction() as conn:
            await conn.execute(_INSERT, checkpoint.to_row())
        log.info("audit.sealed", tree_size=size, root_hash=root.hex(), key_id=checkpoint.key_id)
        return checkpoint

    async def run(self) -> None:
        """Seal every `every_entries` appends or `interval_seconds`, until cancelled."""
        while True:
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._appended = 0
            try:
                await self.seal()
            except TongbanError as exc:
                log.warning("audit.seal_failed", error=str(exc), error_type=type(exc).__name__)
