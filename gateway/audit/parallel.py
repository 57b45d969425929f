"""Verification on every core: the entries hashed in chunks by worker processes.

Rebuilding and hashing each entry is most of `Verifier`'s work, and reading the rows
is the rest; both are independent per entry, so worker processes each read a chunk
of ``2**k`` entries straight from the SQLite file (read-only) and run the same
checks on it as `Verifier.add`: positions without gaps, each ``prev`` equal to the
recorded hash of the entry before (across the chunk border too), and every entry's
rebuilt bytes hashing to its recorded leaf hash. A chunk returns the Merkle subtree
hashes of its leaves (at its end and at every checkpoint size inside it), so the
parent folds one hash per chunk and checks every checkpoint root as before.

The per-entry Python is kept to the least: rows as plain tuples, the canonical
bytes of the whole chunk by `canonical.entry_bytes_many` (one f-string per entry,
the same bytes as `entry_bytes`), the leaf hashes and each level of the chunk's
Merkle tree by list comprehensions over `hashlib.sha256`, and every check as one
comparison of whole lists. A worker process imports only what it needs
(`gateway.audit`'s own imports are lazy).

A chunk that finds anything wrong returns nothing more: the caller then verifies
the whole log again with the sequential `Verifier`, so a finding (which entry, why)
is always exactly the sequential one. Chunks are aligned to their size (a power of
two), so a chunk's subtrees are nodes of the chunk's levels, those `decompose`
gives for its range.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import sqlite3
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.canonical import ENTRY_COLUMNS, entry_bytes_many
from gateway.audit.merkle import decompose
from gateway.errors import InvalidAuditEntry

__all__ = ["CHUNK", "Chunk", "hash_chunk", "hash_chunks"]

CHUNK = 1 << 16
"""Entries per worker task: big enough to amortise the hop, small enough to stream."""

_ROWS = (
    f"SELECT {', '.join(ENTRY_COLUMNS)}, leaf_hash FROM audit_entries "  # noqa: S608 - constant
    "WHERE seq >= ? AND seq < ? ORDER BY seq"
)
_LEAF = "SELECT leaf_hash FROM audit_entries WHERE seq = ?"
_sha256 = hashlib.sha256


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
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            before: bytes | None = None
            if begin > 0:
                found = connection.execute(_LEAF, (begin - 1,)).fetchone()
                if found is None:
                    return None
                before = found[0]
            rows = connection.execute(_ROWS, (begin, end)).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:  # text that is not UTF-8, say: the sequential verifier reports it
        return None
    if len(rows) != end - begin:
        return None
    try:
        entries = entry_bytes_many(rows)
    except (InvalidAuditEntry, TypeError, ValueError):
        return None
    seqs, prevs, leaves = (
        [row[0] for row in rows], [row[-2] for row in rows], [row[-1] for row in rows]
    )  # fmt: skip
    if seqs != list(range(begin, end)):
        return None
    sha256 = _sha256
    computed = [sha256(b"\x00" + entry).digest() for entry in entries]
    if computed != leaves:
        return None
    # Each prev is the entry before's leaf hash (its recorded one, checked equal above).
    if (before is not None and prevs[0] != before) or prevs[1:] != computed[:-1]:
        return None
    levels = [computed]
    level = computed
    while len(level) > 1:
        pairs = iter(level)  # zip(pairs, pairs): (0, 1), (2, 3), ...; an odd last is left
        level = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        levels.append(level)

    def subtrees(upto: int) -> list[bytes]:
        # begin is a multiple of the chunk size, so each subtree is one node of a level.
        return [
            levels[height][(start - begin) >> height] for start, height in decompose(begin, upto)
        ]

    found_marks = {size: subtrees(size) for size in marks if begin < size <= end}
    return Chunk(begin, end, computed[-1] if computed else b"", subtrees(end), found_marks)


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
