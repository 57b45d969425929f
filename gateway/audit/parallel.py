"""Verification on every core: the entries hashed in chunks by worker processes.

Rebuilding and hashing each entry is most of `Verifier`'s work, and reading the rows
is the rest; both are independent per entry, so worker processes each read a chunk
of ``2**k`` entries straight from the SQLite file (read-only) and run the same
checks on it as `Verifier.add`: positions without gaps, each ``prev`` equal to the
recorded hash of the entry before (across the chunk border too), and every entry's
rebuilt bytes hashing to its recorded leaf hash. A chunk returns the Merkle subtree
hashes of its leaves (at its end and at every checkpoint size inside it), so the
parent folds one hash per chunk and checks every checkpoint root as before.

A chunk that finds anything wrong returns nothing more: the caller then verifies
the whole log again with the sequential `Verifier`, so a finding (which entry, why)
is always exactly the sequential one. Chunks are aligned to their size (a power of
two), so a chunk's subtrees are those `decompose` gives for its range.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.canonical import entry_bytes
from gateway.audit.merkle import CompactRange, leaf_hash
from gateway.errors import InvalidAuditEntry

__all__ = ["CHUNK", "Chunk", "hash_chunk", "hash_chunks"]

CHUNK = 1 << 16
"""Entries per worker task: big enough to amortise the hop, small enough to stream."""

_ROWS = (
    "SELECT seq, time, kind, application_id, request_id, trace_id, actor, region, data, "
    "prev_hash, leaf_hash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq"
)
_LEAF = "SELECT leaf_hash FROM audit_entries WHERE seq = ?"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A verified chunk ``[begin, end)``: its last leaf and its subtree hashes.

    `marks` maps each requested size inside ``(begin, end]`` to the subtree hashes
    covering ``[begin, size)``; `hashes` cover the whole chunk.
    """

    begin: int
    end: int
    last_leaf: bytes
    hashes: list[bytes]
    marks: dict[int, list[bytes]]


def hash_chunk(path: str, begin: int, end: int, marks: Collection[int]) -> Chunk | None:
    """Check entries ``[begin, end)`` of the log in the SQLite file at `path`.

    None if any entry is missing, misplaced, unlinked, malformed or changed (the
    caller then finds which with the sequential verifier). Runs in a worker process.
    """
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        prev: bytes | None = None
        if begin > 0:
            before = connection.execute(_LEAF, (begin - 1,)).fetchone()
            if before is None:
                return None
            prev = bytes(before[0])
        rows = connection.execute(_ROWS, (begin, end)).fetchall()
    finally:
        connection.close()
    if len(rows) != end - begin:
        return None
    compact = CompactRange()
    found: dict[int, list[bytes]] = {}
    position = begin
    for row in rows:
        if row["seq"] != position:
            return None
        recorded_prev = bytes(row["prev_hash"])
        if prev is not None and recorded_prev != prev:
            return None
        try:
            leaf = leaf_hash(entry_bytes(row))
        except (InvalidAuditEntry, KeyError, TypeError, ValueError):
            return None
        if leaf != bytes(row["leaf_hash"]):
            return None
        compact.append(leaf)
        prev = leaf
        position += 1
        if position in marks:
            found[position] = compact.hashes()
    assert prev is not None or begin == end  # noqa: S101 - rows were read
    return Chunk(begin, end, prev or b"", compact.hashes(), found)


async def hash_chunks(
    path: Path, total: int, marks: Collection[int], *, workers: int, chunk: int = CHUNK
) -> list[Chunk] | None:
    """Check entries ``[0, total)`` in chunks on `workers` processes, in order.

    None as soon as one chunk fails (the caller verifies sequentially instead).
    """
    if chunk & (chunk - 1):
        raise ValueError("the chunk size must be a power of two")
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    chunks: list[Chunk] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        tasks = []
        for begin in range(0, total, chunk):
            end = min(begin + chunk, total)
            inside = frozenset(m for m in marks if begin < m <= end)
            tasks.append(loop.run_in_executor(pool, hash_chunk, str(path), begin, end, inside))
        try:
            for task in tasks:
                result = await task
                if result is None:
                    return None
                chunks.append(result)
        finally:
            for task in tasks:
                task.cancel()
    return chunks
