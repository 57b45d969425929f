"""Reading the audit log for its REST routes: checkpoints and leaf hashes.

Every function here only reads.
"""

from __future__ import annotations

from gateway.audit.checkpoints import Checkpoint
from gateway.audit.sealer import latest_checkpoint
from gateway.store import Store


async def latest(store: Store) -> Checkpoint | None:
    """Reads only: the latest signed checkpoint, if there is one yet."""
    async with store.read() as conn:
        return await latest_checkpoint(conn)


async def checkpoint_of_size(store: Store, size: int) -> Checkpoint | None:
    """Reads only: the signed checkpoint of a tree of `size` entries, if one was made."""
    async with store.read() as conn:
        row = await conn.fetch_one(
            "SELECT * FROM audit_checkpoints WHERE tree_size = :size", {"size": size}
        )
    return None if row is None else Checkpoint.from_row(row)


async def leaf_hash(store: Store, seq: int) -> bytes | None:
    """Reads only: the leaf hash of entry `seq`, if it exists."""
    async with store.read() as conn:
        row = await conn.fetch_one(
            "SELECT leaf_hash FROM audit_entries WHERE seq = :seq", {"seq": seq}
        )
    return None if row is None else bytes(row["leaf_hash"])
