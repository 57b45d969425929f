"""Appending to the audit log: the entry model, validation, and gap-free positions.

An entry is something the gateway did or saw, about one application or partner,
at one time. `AuditLog.append` validates it, gives it the next sequence number,
chains it to the previous entry (``prev`` = that entry's leaf hash) and writes it
on the caller's `Connection`, so the entry commits in the same transaction as the
row it describes (the outbox rule). Its position is real once that transaction
commits; if it rolls back, the number is given to the next entry instead.

No personal data in the clear: names, ID numbers, phone numbers and addresses
must be passed as `pseudonymise` digests (keyed HMAC) or masked values, so the
personal data can be purged later without breaking the log. Values that look
like a resident ID number or a mobile number are refused.

Gap-free sequence numbers under concurrency:

- SQLite: the store serialises write transactions (``BEGIN IMMEDIATE``), so
  reading the tail and inserting after it cannot interleave, even across processes.
- PostgreSQL: each append first takes ``pg_advisory_xact_lock(AUDIT_APPEND_LOCK)``,
  held until the transaction ends. The next appender reads the tail only after
  the previous one committed or rolled back, so numbers have no gaps and entries
  commit in sequence order (the sealer relies on that). The lock is held from
  the first append until the transaction ends, whatever follows it (a group
  commit runs more units after it): keep appending transactions short.

Within one transaction the lock is taken once, and the tail is read once: after
that the transaction's own last entry is the tail (every other appender waits for
the lock, or for SQLite's writer). Both are remembered per `Connection` object,
which the stores make afresh for each transaction; a group commit's batch of
settlements then costs one lock and one tail read, not one per entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.canonical import canonical_json, entry_bytes
from gateway.audit.merkle import leaf_hash
from gateway.errors import InvalidAuditEntry
from gateway.store import Connection, Row

__all__ = [
    "AUDIT_APPEND_LOCK",
    "GENESIS_PREV",
    "AuditLog",
    "Entry",
    "Position",
    "format_time",
    "looks_personal",
    "pseudonymise",
]

AUDIT_APPEND_LOCK = 0x746F6E6762616E01
"""PostgreSQL advisory lock key serialising appends ("tongban" + 0x01, fits a bigint)."""

GENESIS_PREV = bytes(32)
"""The ``prev`` of entry 0: 32 zero bytes."""

MAX_DATA_BYTES = 16_384

_KIND = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
_ACTOR = re.compile(
    r"^(?:system(?::[a-z0-9_.-]{1,64})?|(?:staff|partner|ops):[A-Za-z0-9._@-]{1,128}"
    r"|region:[a-z][a-z0-9_]{0,63})$"
)
_REGION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
# A resident ID number (18 characters, last may be X) or a mainland mobile number,
# not embedded in a longer run of letters or digits (hex digests stay allowed).
_PERSONAL = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|1[3-9]\d{9})(?![0-9A-Za-z])")

_INSERT = (
    "INSERT INTO audit_entries (seq, time, kind, application_id, request_id, trace_id, "
    "actor, region, data, prev_hash, leaf_hash) VALUES (:seq, :time, :kind, "
    ":application_id, :request_id, :trace_id, :actor, :region, :data, :prev_hash, :leaf_hash)"
)
_TAIL = "SELECT seq, leaf_hash FROM audit_entries ORDER BY seq DESC LIMIT 1"
_LOCKS = {"sqlite": None, "postgres": "SELECT pg_advisory_xact_lock(:key)"}

# Per transaction (its Connection object), shared by every AuditLog: holds the
# append lock; the (seq, leaf hash) of the entry it appended last.
_LOCKED: weakref.WeakSet[Any] = weakref.WeakSet()
_TAILS: weakref.WeakKeyDictionary[Any, tuple[int, bytes]] = weakref.WeakKeyDictionary()


def pseudonymise(value: str, key: bytes) -> str:
    """A keyed digest of `value` to record instead of personal data.

    ``"hmac-sha256:" + hex(HMAC-SHA256(key, value))``: equal values give equal
    digests (so entries about one person can be found given the value), and
    without `key` the value cannot be guessed back from a short list of candidates.
    """
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return "hmac-sha256:" + digest


def format_time(moment: datetime) -> str:
    """The entry time format: UTC, microseconds, ``Z`` (``2025-01-31T08:00:00.000000Z``)."""
    if moment.tzinfo is None:
        raise InvalidAuditEntry("entry time must be timezone-aware", field="time")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Position:
    """Where an entry sits: its sequence number and leaf hash (for receipts and proofs)."""

    seq: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored entry, as read back from the log."""

    seq: int
    time: str
    kind: str
    application_id: str | None
    request_id: str | None
    trace_id: str | None
    actor: str
    region: str | None
    data: dict[str, Any]
    prev_hash: bytes
    leaf_hash: bytes

    @classmethod
    def from_row(cls, row: Row) -> Entry:
        """Build an entry from an ``audit_entries`` row."""
        return cls(**{**row, "data": json.loads(row["data"]), "prev_hash": bytes(row["prev_hash"]),
                      "leaf_hash": bytes(row["leaf_hash"])})  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready data, hashes in lowercase hex."""
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "application_id": self.application_id,
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "actor": self.actor,
            "region": self.region,
            "data": self.data,
            "prev_hash": self.prev_hash.hex(),
            "leaf_hash": self.leaf_hash.hex(),
        }


def _check(field: str, value: str | None, pattern: re.Pattern[str], *, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidAuditEntry(f"{field} is required", field=field)
        return
    if not pattern.match(value):
        raise InvalidAuditEntry(f"{field} {value!r} is not well formed", field=field)


def looks_personal(value: str) -> bool:
    """Whether `value` holds something shaped like a resident ID or mobile number.

    `AuditLog.append` refuses data containing such a value; callers recording
    values they do not control (a region's event id) can check first.
    """
    return _PERSONAL.search(value) is not None


def _refuse_personal_data(value: Any, path: str) -> None:
    if isinstance(value, str):
        if looks_personal(value):
            raise InvalidAuditEntry(
                f"{path} looks like an ID or phone number: record pseudonymise(value) instead",
                field=path,
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_personal_data(key, path)
            _refuse_personal_data(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_personal_data(item, f"{path}[{index}]")


def _remember(put: Callable[[Any], None], conn: Connection) -> None:
    """`put(conn)` into a per-transaction memo; a connection that cannot be weakly
    referenced is simply not remembered (the next append reads again)."""
    with contextlib.suppress(TypeError):
        put(conn)


def _known_tail(conn: Connection) -> tuple[int, bytes] | None:
    """The tail this transaction appended last, if it has appended."""
    try:
        return _TAILS.get(conn)
    except TypeError:  # not weakly referable: not remembered
        return None


class AuditLog:
    """Appends validated entries to the store's ``audit_entries`` table.

    `backend` is the store's (``"sqlite"`` or ``"postgres"``); `on_append` is
    called after each append is written (not committed), e.g. to nudge the
    checkpoint sealer, and must not block; `clock` gives the entry time.
    """

    def __init__(
        self,
        backend: str,
        *,
        on_append: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if backend not in _LOCKS:
            raise ValueError(f"no audit append strategy for backend {backend!r}")
        self._lock_sql = _LOCKS[backend]
        self._on_append = on_append
        self._clock = clock

    async def hold_append_lock(self, conn: Connection) -> None:
        """Take the append lock now, on `conn`, until its transaction ends (PostgreSQL).

        For a transaction that must not interleave with others that append (they all
        take it): it then sees everything they committed. SQLite needs nothing, its
        write transactions are serialised already. Taking it twice is harmless.
        """
        if self._lock_sql is not None and conn not in _LOCKED:
            await conn.fetch_one(self._lock_sql, {"key": AUDIT_APPEND_LOCK})
            _remember(_LOCKED.add, conn)

    async def append(
        self,
        conn: Connection,
        *,
        kind: str,
        actor: str,
        application_id: str | None = None,
        request_id: str | None = None,
        trace_id: str | None = None,
        region: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Position:
        """Write one entry on `conn`, inside the caller's transaction; return its position.

        `kind` is a dotted event name (``application.received``); `actor` is
        ``system``, ``system:<component>``, ``staff:<id>``, ``partner:<id>`` or
        ``region:<region key>`` (a region system's own report);
        `data` a JSON object without personal data in the clear. The position is
        final only once the caller's transaction commits. Raises
        `InvalidAuditEntry` (nothing written) or `StoreError`.
        """
        _check("kind", kind, _KIND, required=True)
        _check("actor", actor, _ACTOR, required=True)
        _check("application_id", application_id, _ID, required=False)
        _check("request_id", request_id, _ID, required=False)
        _check("trace_id", trace_id, _ID, required=False)
        _check("region", region, _REGION, required=False)
        payload = dict(data or {})
        _refuse_personal_data(payload, "data")
        data_text = canonical_json(payload).decode("utf-8")
        if len(data_text) > MAX_DATA_BYTES:
            raise InvalidAuditEntry(
                f"data is {len(data_text)} bytes; the limit is {MAX_DATA_BYTES}", field="data"
            )
        fields: dict[str, Any] = {
            "time": format_time(self._clock()),
            "kind": kind,
            "application_id": application_id,
            "request_id": request_id,
            "trace_id": trace_id,
            "actor": actor,
            "region": region,
            "data": data_text,
        }
        await self.hold_append_lock(conn)
        known = _known_tail(conn)
        if known is None:
            tail = await conn.fetch_one(_TAIL)
            if tail is not None:
                known = (tail["seq"], bytes(tail["leaf_hash"]))
        fields["seq"] = 0 if known is None else known[0] + 1
        fields["prev_hash"] = GENESIS_PREV if known is None else known[1]
        fields["leaf_hash"] = leaf_hash(entry_bytes(fields))
        await conn.execute(_INSERT, fields)
        _remember(lambda c: _TAILS.__setitem__(c, (fields["seq"], fields["leaf_hash"])), conn)
        if self._on_append is not None:
            self._on_append()
        return Position(fields["seq"], fields["leaf_hash"])
