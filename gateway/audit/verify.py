"""Verification: recompute the whole log and name the first bad entry.

`Verifier` is fed entries in order (from the store or an export file) and checks
each one against what came before:

1. its position: a missing number means entries were **deleted**;
2. its chain link: if ``prev`` names an earlier entry than the one before it,
   the entries in between were **inserted**;
3. its own bytes: the canonical bytes rebuilt from its fields must hash to the
   leaf hash it was written with, else it was **changed** (content, or position
   by reordering or renumbering);
4. the chain link again: a ``prev`` that matches nothing means the entry before
   it was **rewritten** together with its hash.

At every checkpoint size it compares the recomputed root with the signed one,
and it checks every checkpoint's signature with the trusted keys. Someone who
can write the database and recomputes every hash defeats checks 1–4, but not
the signatures: verification then names the range since the last checkpoint
that still matches. Someone who also holds the signing key (or deletes the
newest checkpoints with their entries) is caught only by checkpoints kept
elsewhere, ``trusted``: the log must reach each one's size and hash to its root.
What no log can show: entries appended after the latest checkpoint anyone kept
and then removed, or forged entries appended at the end.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.canonical import entry_bytes
from gateway.audit.checkpoints import Checkpoint, signature_problem
from gateway.audit.merkle import CompactRange, decompose, leaf_hash
from gateway.audit.parallel import CHUNK, Chunk, hash_chunks
from gateway.audit.replay import AuditedStates, CaseDigest, Disagreement, compare_stored
from gateway.audit.trusted import TrustedCheckpoint
from gateway.errors import InvalidAuditEntry
from gateway.store import SQLiteStore, Store

__all__ = ["Finding", "Report", "Verifier", "verify_store"]

# How far back an inserted run can be recognised by the chain link.
_INSERTION_WINDOW = 65_536


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: `seq` is the first bad entry (None for checkpoint-only problems)."""

    # deleted | inserted | changed | rewritten | malformed | signature | origin; for
    # trusted checkpoints also truncated | unchecked (not reached: an entry failed first)
    reason: str
    message: str
    seq: int | None = None
    tree_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "seq": self.seq,
            "tree_size": self.tree_size,
            "message": self.message,
        }


@dataclass(slots=True)
class Report:
    """What verification found."""

    first_seq: int
    entries: int = 0
    checkpoints: int = 0
    checkpoints_matched: int = 0
    first_bad: Finding | None = None
    checkpoint_problems: list[Finding] = field(default_factory=list)
    trusted: int = 0
    trusted_matched: int = 0
    trusted_problems: list[Finding] = field(default_factory=list)
    applications_checked: int | None = None  # None: stored states not compared
    state_problems: list[Disagreement] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True if no entry, checkpoint, trusted checkpoint or stored state is bad."""
        return (
            self.first_bad is None
            and not self.checkpoint_problems
            and not self.trusted_problems
            and not self.state_problems
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "first_seq": self.first_seq,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "checkpoints_matched": self.checkpoints_matched,
            "first_bad": None if self.first_bad is None else self.first_bad.to_json(),
            "checkpoint_problems": [p.to_json() for p in self.checkpoint_problems],
            "trusted": self.trusted,
            "trusted_matched": self.trusted_matched,
            "trusted_problems": [p.to_json() for p in self.trusted_problems],
            "applications_checked": self.applications_checked,
            "state_problems": [p.to_json() for p in self.state_problems],
            "seconds": round(self.seconds, 3),
            "entries_per_second": round(self.entries / self.seconds) if self.seconds else None,
        }


class Verifier:
    """Checks entries fed in order, then the checkpoints; see the module docstring.

    `checkpoints` are those to check; `keys` the trusted public keys by key id;
    `origin`, if given, the log every checkpoint must name. An export starting
    at `start` > 0 passes `left`, the subtree hashes covering ``[0, start)``.

    `trusted` are checkpoints kept elsewhere (`trusted.load_trusted`), each
    checked with its own trusted keys: the recomputed log must reach its size
    (else it was **truncated**) and hash to its root there (else it was
    **rewritten**), whatever the log's own checkpoints say.
    """

    def __init__(
        self,
        checkpoints: Sequence[Checkpoint],
        keys: Mapping[str, Ed25519PublicKey],
        *,
        origin: str | None = None,
        start: int = 0,
        left: Sequence[bytes] = (),
        trusted: Sequence[TrustedCheckpoint] = (),
    ) -> None:
        self._compact = CompactRange.from_hashes(start, left)
        self._position = start
        self._prev: bytes | None = None  # leaf hash of the entry before, once seen
        self._recent: deque[bytes] = deque(maxlen=_INSERTION_WINDOW)
        self._checkpoints = {c.tree_size: c for c in checkpoints}
        self._last_matched = start
        self._root_mismatch: Finding | None = None
        self._entry_finding: Finding | None = None
        self._started = time.perf_counter()
        self.report = Report(first_seq=start, checkpoints=len(self._checkpoints))
        for checkpoint in sorted(checkpoints, key=lambda c: c.tree_size):
            problem = signature_problem(checkpoint, keys)
            if problem is None and origin is not None and checkpoint.origin != origin:
                problem = f"names log {checkpoint.origin!r}, not {origin!r}"
                self._problem("origin", checkpoint, problem)
            elif problem is not None:
                self._problem("signature", checkpoint, problem)
        self._trusted: dict[int, list[TrustedCheckpoint]] = {}
        self.report.trusted = len(trusted)
        for held in trusted:
            problem = signature_problem(held.checkpoint, held.keys)
            reason = "signature"
            if problem is None and origin is not None and held.checkpoint.origin != origin:
                problem, reason = f"names log {held.checkpoint.origin!r}, not {origin!r}", "origin"
            if problem is not None:
                self._trusted_problem(reason, held, problem)
            else:
                self._trusted.setdefault(held.checkpoint.tree_size, []).append(held)

    @property
    def position(self) -> int:
        """The sequence number the next entry must have."""
        return self._position

    @property
    def failed(self) -> bool:
        """True once an entry failed; further entries are not looked at."""
        return self._entry_finding is not None

    def _problem(self, reason: str, checkpoint: Checkpoint, message: str) -> None:
        self.report.checkpoint_problems.append(
            Finding(reason, f"checkpoint {checkpoint.tree_size}: {message}", None,
                    checkpoint.tree_size)
        )  # fmt: skip

    def _trusted_problem(self, reason: str, held: TrustedCheckpoint, message: str) -> None:
        checkpoint = held.checkpoint
        self.report.trusted_problems.append(
            Finding(reason, f"trusted checkpoint {checkpoint.tree_size} ({held.source}, signed "
                    f"{checkpoint.time}): {message}", None, checkpoint.tree_size)
        )  # fmt: skip

    def _check_trusted(self, size: int, root: bytes) -> None:
        for held in self._trusted.get(size, ()):
            if root == held.checkpoint.root_hash:
                self.report.trusted_matched += 1
                continue
            self._trusted_problem(
                "rewritten",
                held,
                f"REWRITTEN: the log's first {size} entries hash to {root.hex()}, not to the "
                f"trusted root {held.checkpoint.root_hash.hex()}: entries before {size} were "
                "changed since it was signed",
            )

    def reject(self, seq: int, reason: str, message: str) -> None:
        """Record entry `seq` as the first bad one, found by the caller (an export's reader)."""
        if self._entry_finding is None:
            self._entry_finding = Finding(reason, message, seq)

    def _fail(self, seq: int, reason: str, message: str) -> bool:
        self.reject(seq, reason, message)
        return False

    def add(self, rows: Iterable[Mapping[str, Any]]) -> bool:
        """Check the next entries; return False (and stop) at the first bad one.

        Each row holds the stored fields (`canonical.entry_bytes`), ``prev_hash``
        and ``leaf_hash`` as bytes.
        """
        if self._entry_finding is not None:
            return False
        for row in rows:
            p = self._position
            seq = row["seq"]
            if seq != p:
                if seq > p:
                    missing = f"entry {p} is" if seq == p + 1 else f"entries {p}..{seq - 1} are"
                    return self._fail(p, "deleted", f"{missing} missing")
                return self._fail(p, "changed", f"entry {seq} appears again at position {p}")
            try:
                prev, recorded = bytes(row["prev_hash"]), bytes(row["leaf_hash"])
            except (KeyError, TypeError, ValueError) as exc:  # e.g. a hash stored as text
                return self._fail(p, "malformed", f"entry {p} has no hash as bytes: {exc}")
            linked = self._prev is None or prev == self._prev
            if not linked:
                back = self._find_recent(prev)
                if back is not None:
                    return self._fail(
                        back + 1,
                        "inserted",
                        f"entries {back + 1}..{p - 1} were inserted: entry {p} follows "
                        f"entry {back}",
                    )
            try:
                leaf = leaf_hash(entry_bytes(row))
            except (InvalidAuditEntry, KeyError, TypeError, ValueError) as exc:
                return self._fail(p, "malformed", f"entry {p} cannot be rebuilt: {exc}")
            if leaf != recorded:
                return self._fail(
                    p,
                    "changed",
                    f"entry {p} does not match its recorded hash: its content, or its "
                    "position (reordered, renumbered), was changed",
                )
            if not linked:
                return self._fail(
                    p - 1,
                    "rewritten",
                    f"entry {p - 1} was rewritten with a new hash: entry {p} recorded "
                    "another hash for it",
                )
            self._compact.append(leaf)
            self._recent.append(leaf)
            self._prev = leaf
            self._position = p + 1
            self.report.entries += 1
            if self._position in self._checkpoints:
                self._check_root(self._checkpoints[self._position], self._compact)
            if self._position in self._trusted:
                self._check_trusted(self._position, self._compact.root())
        return True

    @property
    def sizes_to_check(self) -> frozenset[int]:
        """Tree sizes where a checkpoint or a trusted checkpoint must be checked."""
        return frozenset(self._checkpoints) | frozenset(self._trusted)

    def add_checked(self, chunk: Chunk) -> None:
        """Take entries a worker already checked (`parallel.hash_chunk`): fold its
        subtree hashes and check the checkpoints inside it, as `add` would have."""
        if chunk.begin != self._position or self._entry_finding is not None:
            raise ValueError(f"chunk at {chunk.begin}, verifier at {self._position}")
        for size in sorted(chunk.marks):
            compact = CompactRange.from_hashes(self._position, self._compact.hashes())
            for (_, height), digest in zip(
                decompose(chunk.begin, size), chunk.marks[size], strict=True
            ):
                compact.push(height, digest)
            if size in self._checkpoints:
                self._check_root(self._checkpoints[size], compact)
            if size in self._trusted:
                self._check_trusted(size, compact.root())
        for (_, height), digest in zip(
            decompose(chunk.begin, chunk.end), chunk.hashes, strict=True
        ):
            self._compact.push(height, digest)
        self._prev = chunk.last_leaf
        self.report.entries += chunk.end - chunk.begin
        self._position = chunk.end

    def _find_recent(self, digest: bytes) -> int | None:
        """The position of a recent entry with leaf hash `digest`, searching backwards."""
        for back, leaf in enumerate(reversed(self._recent)):
            if leaf == digest:
                return self._position - 1 - back
        return None

    def _check_root(self, checkpoint: Checkpoint, compact: CompactRange) -> None:
        if compact.root() == checkpoint.root_hash:
            self.report.checkpoints_matched += 1
            self._last_matched = max(self._last_matched, checkpoint.tree_size)
            return
        self._problem("rewritten", checkpoint, "the entries do not hash to its root")
        if self._root_mismatch is None:
            first = self._last_matched
            self._root_mismatch = Finding(
                "rewritten",
                f"checkpoint {checkpoint.tree_size} does not match: an entry in "
                f"{first}..{checkpoint.tree_size - 1} was rewritten with its hash recomputed",
                first,
                checkpoint.tree_size,
            )

    def finish(
        self, right: Mapping[int, Sequence[bytes]] | None = None, *, end: int | None = None
    ) -> Report:
        """Check checkpoints beyond the entries seen, and settle the first bad entry.

        `right` maps a checkpoint size beyond the entries to the subtree hashes
        covering ``[end, size)`` (an export's range proof); `end` is where the
        entries should have stopped, if known.
        """
        right = right or {}
        if self._entry_finding is None and end is not None and self._position < end:
            self._fail(
                self._position, "deleted", f"entries {self._position}..{end - 1} are missing"
            )
        if self._entry_finding is None:
            for size, checkpoint in sorted(self._checkpoints.items()):
                if size <= self._position:
                    continue
                if size in right:
                    compact = CompactRange.from_hashes(self._position, self._compact.hashes())
                    for (_, height), digest in zip(
                        decompose(self._position, size), right[size], strict=True
                    ):
                        compact.push(height, digest)
                    self._check_root(checkpoint, compact)
                else:
                    self._entry_finding = Finding(
                        "deleted",
                        f"checkpoint {size} covers entries up to {size - 1}, but the log ends "
                        f"before entry {self._position}: entries were removed from the end",
                        self._position,
                        size,
                    )
                    break
        for size, held_list in sorted(self._trusted.items()):
            if size <= self._position:
                continue
            for held in held_list:
                if self._entry_finding is not None:
                    message = f"not reached: verification stopped at entry {self._position}"
                    self._trusted_problem("unchecked", held, message)
                else:
                    self._trusted_problem(
                        "truncated",
                        held,
                        f"TRUNCATED: the log ends after {self._position} entries, but this "
                        f"checkpoint covers {size}: entries {self._position}..{size - 1} "
                        "were deleted since it was signed",
                    )
        entry, mismatch = self._entry_finding, self._root_mismatch
        if entry is not None and (
            mismatch is None or mismatch.tree_size is None or (entry.seq or 0) < mismatch.tree_size
        ):
            self.report.first_bad = entry
        else:
            self.report.first_bad = mismatch
        self.report.seconds = time.perf_counter() - self._started
        return self.report


_PAGE = 20_000
_ENTRIES = (
    "SELECT seq, time, kind, application_id, request_id, trace_id, actor, region, data, "
    "prev_hash, leaf_hash FROM audit_entries WHERE seq >= :after ORDER BY seq LIMIT :limit"
)
_CHECKPOINTS = "SELECT * FROM audit_checkpoints ORDER BY tree_size"


async def verify_store(
    store: Store,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    origin: str | None = None,
    trusted: Sequence[TrustedCheckpoint] = (),
    compare_states: bool = False,
    case_digest: CaseDigest | None = None,
    workers: int | None = None,
    chunk: int = CHUNK,
) -> Report:
    """Verify every entry and checkpoint in `store`, and against `trusted`; see `Verifier`.

    On SQLite with more than one worker (default: one per core), worker processes
    hash the entries in chunks (`parallel`); if any chunk finds a problem, the log
    is verified again sequentially, so findings are always the sequential ones.
    With `compare_states`, then replay the audited transitions and compare them
    with every stored application (`replay.compare_stored`; region case numbers
    only with `case_digest`), if the log itself verified. Reads in pages; the
    hashing runs in a worker thread, off the event loop.
    """
    started = time.perf_counter()
    async with store.read() as conn:
        checkpoints = [Checkpoint.from_row(row) for row in await conn.fetch_all(_CHECKPOINTS)]

    def new_verifier() -> Verifier:
        return Verifier(checkpoints, keys, origin=origin, trusted=trusted)

    verifier = await asyncio.to_thread(new_verifier)
    if workers is None:
        workers = os.cpu_count() or 1
    checked_in_parallel = False
    if workers > 1 and isinstance(store, SQLiteStore):
        async with store.read() as conn:
            last = await conn.fetch_one("SELECT max(seq) AS last FROM audit_entries")
        total = 0 if last is None or last["last"] is None else int(last["last"]) + 1
        if total > chunk:
            chunks = await hash_chunks(
                store.path, total, verifier.sizes_to_check, workers=workers, chunk=chunk
            )
            if chunks is not None:
                for done in chunks:
                    verifier.add_checked(done)
                checked_in_parallel = True
            else:
                verifier = await asyncio.to_thread(new_verifier)  # find it, sequentially
    if not checked_in_parallel:
        await _add_pages(store, verifier)
    report = verifier.finish()
    report.seconds = time.perf_counter() - started
    if compare_states and report.first_bad is None:
        states = AuditedStates()
        await _replay_pages(store, states)
        report.applications_checked, report.state_problems = await compare_stored(
            store, states, case_digest
        )
    return report


async def _add_pages(store: Store, verifier: Verifier) -> None:
    """Feed entries to `verifier`, page by page, until one fails."""
    after = 0
    while True:
        async with store.read() as conn:
            rows = await conn.fetch_all(_ENTRIES, {"after": after, "limit": _PAGE})
        if not rows or not await asyncio.to_thread(verifier.add, rows):
            return
        after = rows[-1]["seq"] + 1


async def _replay_pages(store: Store, states: AuditedStates) -> None:
    """Feed every application entry to `states`, page by page."""
    after = 0
    while True:
        async with store.read() as conn:
            rows = await conn.fetch_all(_ENTRIES, {"after": after, "limit": _PAGE})
        if not rows:
            return
        states.add(rows)
        after = rows[-1]["seq"] + 1
