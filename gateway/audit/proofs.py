"""Proofs over the stored log: inclusion, consistency, range proofs and roots.

A `ProofService` keeps, in memory, the hash of every complete aligned subtree of
at least ``2**tile_height`` leaves (256 by default: about 0.25 bytes per entry),
read once from ``audit_entries`` and extended as the log grows. A proof then
needs only O(log n) of those hashes plus the leaves of at most three tiles, read
from the store, so it costs the same on a log of millions of entries as on a
small one. The hashes are trusted as stored; `gateway.audit.verify` is what
checks the stored log itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from gateway.audit.merkle import (
    SubtreeHash,
    consistency_proof,
    decompose,
    fold,
    inclusion_proof,
    node_hash,
    root_from_leaves,
)
from gateway.errors import AuditError, ProofUnavailable
from gateway.store import Store

__all__ = ["TILE_HEIGHT", "ProofService", "TileIndex"]

TILE_HEIGHT = 8
_PAGE = 20_000
_LEAVES = (
    "SELECT seq, leaf_hash FROM audit_entries WHERE seq >= :begin AND seq < :end "
    "ORDER BY seq LIMIT :limit"
)


class TileIndex:
    """Hashes of every complete aligned subtree of height >= `tile_height`.

    Pure and synchronous: `extend` with leaf hashes in order, then ask `perfect`.
    Lists only grow, so readers on the event loop may read while a worker
    thread extends.
    """

    def __init__(self, tile_height: int = TILE_HEIGHT) -> None:
        self.tile_height = tile_height
        self.size = 0
        self._levels: list[list[bytes]] = []  # [i]: subtrees of height tile_height + i
        self._pending: list[bytes] = []  # leaves of the tile being filled

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Absorb the next leaf hashes, in order."""
        width = 1 << self.tile_height
        for leaf in leaves:
            self._pending.append(leaf)
            self.size += 1
            if len(self._pending) == width:
                self._add(root_from_leaves(self._pending))
                self._pending = []

    def _add(self, digest: bytes) -> None:
        level = 0
        while True:
            if len(self._levels) == level:
                self._levels.append([])
            nodes = self._levels[level]
            nodes.append(digest)
            if len(nodes) % 2:
                return
            digest = node_hash(nodes[-2], nodes[-1])
            level += 1

    def perfect(self, start: int, height: int) -> bytes | None:
        """The hash of leaves ``[start, start + 2**height)``, if held (height >= tile height)."""
        if height < self.tile_height:
            return None
        return self._levels[height - self.tile_height][start >> height]

    def subtree_function(self, window: Mapping[int, bytes]) -> SubtreeHash:
        """A `SubtreeHash` using held subtrees, and leaves from `window` (seq -> leaf) below."""

        def subtree(begin: int, end: int) -> bytes:
            hashes = []
            for start, height in decompose(begin, end):
                digest = self.perfect(start, height)
                if digest is None:
                    digest = root_from_leaves(
                        window[i] for i in range(start, start + (1 << height))
                    )
                hashes.append(digest)
            return fold(hashes)

        return subtree


class ProofService:
    """Proofs and roots over the store's ``audit_entries``, for sizes up to the log's."""

    def __init__(self, store: Store, *, tile_height: int = TILE_HEIGHT) -> None:
        self._store = store
        self._index = TileIndex(tile_height)
        self._lock = asyncio.Lock()

    async def _leaves(self, begin: int, end: int) -> list[bytes]:
        """Leaf hashes ``[begin, end)`` from the store; `ProofUnavailable` if any is missing."""
        leaves: list[bytes] = []
        while begin + len(leaves) < end:
            first = begin + len(leaves)
            async with self._store.read() as conn:
                rows = await conn.fetch_all(_LEAVES, {"begin": first, "end": end, "limit": _PAGE})
            if not rows:
                raise ProofUnavailable(f"the log has no entry {first} (size {end} asked)")
            if rows[0]["seq"] != first or rows[-1]["seq"] != first + len(rows) - 1:
                raise AuditError(
                    f"the audit log has a gap after entry {first}: run `tongban audit verify`"
                )
            leaves.extend(bytes(row["leaf_hash"]) for row in rows)
        return leaves

    async def _cover(self, size: int) -> None:
        """Extend the tile index over the first `size` leaves."""
        async with self._lock:
            while self._index.size < size:
                begin = self._index.size
                leaves = await self._leaves(begin, min(size, begin + _PAGE))
                await asyncio.to_thread(self._index.extend, leaves)

    async def _subtree_function(self, size: int, positions: Iterable[int]) -> SubtreeHash:
        """Cover `size`, and read the leaves of the tiles holding `positions`."""
        await self._cover(size)
        height = self._index.tile_height
        window: dict[int, bytes] = {}
        for tile in sorted({p >> height for p in positions if 0 <= p < size}):
            begin = tile << height
            end = min(size, begin + (1 << height))
            window.update(zip(range(begin, end), await self._leaves(begin, end), strict=True))
        return self._index.subtree_function(window)

    async def root(self, size: int) -> bytes:
        """The tree hash of the first `size` entries."""
        if size == 0:
            return fold([])
        subtree = await self._subtree_function(size, [size - 1])
        return subtree(0, size)

    async def inclusion(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of entry `index` in the tree of `size` entries."""
        if not 0 <= index < size:
            raise ProofUnavailable(f"entry {index} is not in a tree of size {size}")
        subtree = await self._subtree_function(size, [index, size - 1])
        return inclusion_proof(index, size, subtree)

    async def consistency(self, first: int, second: int) -> list[bytes]:
        """The consistency proof from tree `first` to tree `second` (0 < first <= second)."""
        if not 0 < first <= second:
            raise ProofUnavailable(f"no consistency proof from size {first} to {second}")
        subtree = await self._subtree_function(second, [first - 1, first, second - 1])
        return consistency_proof(first, second, subtree)

    async def range_proof(self, begin: int, end: int, size: int) -> tuple[list[bytes], list[bytes]]:
        """What proves entries ``[begin, end)`` against the root of tree `size`.

        Returns the hashes of the perfect subtrees covering ``[0, begin)`` and
        ``[end, size)`` (`merkle.decompose` order): with the entries' own leaves,
        they fold into the root.
        """
        if not 0 <= begin <= end <= size:
            raise ProofUnavailable(f"no range proof for [{begin}, {end}) in size {size}")
        subtree = await self._subtree_function(size, [begin - 1, end, size - 1])
        left = [subtree(s, s + (1 << h)) for s, h in decompose(0, begin)]
        right = [subtree(s, s + (1 << h)) for s, h in decompose(end, size)]
        return left, right
