"""Replaying the audited transitions: does each application's stored state match its audit?

The audit log is checked by hashes and signatures; the ``applications`` and
``deliveries`` rows are not, so a direct ``UPDATE applications SET status = …``
would be seen by nothing. Every state change is audited in the same transaction
as the row it changes, so replaying the audit entries of an application gives
what its row must say:

- **status**: the ``to_status`` of its last transition entry;
- **region case number**: a stored number must be one the log recorded (as the
  keyed digest ``region_case_no_digest``), and a number the log says was
  assigned (on a transition) must be stored;
- **delivery state**: a delivery whose last audited outcome is "delivered" must
  be ``delivered``, one whose last is "failed" must be ``failed``.

A claim the log does not make is not checked (a replayed delivery may be in any
state; a poison outbox row is dead-lettered without an entry). `AuditedStates`
is fed entries in log order; `disagreements` compares one application.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.store import Row, Store

__all__ = [
    "AuditedApplication",
    "AuditedStates",
    "CaseDigest",
    "Disagreement",
    "compare_stored",
    "disagreements",
]

CaseDigest = Callable[[str], str]
"""The audit digest of a region case number (``Journal.pseudonym`` of ``region_case_no``)."""


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One way an application's stored state differs from its audit log."""

    application_id: str
    field: str  # status | region_case_no | delivery | missing
    stored: str | None
    audited: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "field": self.field,
            "stored": self.stored,
            "audited": self.audited,
            "message": self.message,
        }


@dataclass(slots=True)
class AuditedApplication:
    """What the audit log says about one application, up to entry `last_seq`."""

    status: str | None = None
    status_seq: int | None = None
    case_digests: set[str] = field(default_factory=set)
    assigned_case_digest: str | None = None
    deliveries: dict[str, str] = field(default_factory=dict)  # id -> delivered|failed|replayed
    last_seq: int = -1

    def add(self, seq: int, data: Mapping[str, Any]) -> None:
        """Take one of the application's entries (its ``data``), in log order."""
        self.last_seq = seq
        history = str(data.get("history_kind") or "")
        to_status = data.get("to_status")
        transition = history == "transition" and isinstance(to_status, str)
        if transition:
            self.status, self.status_seq = to_status, seq
        digest = data.get("region_case_no_digest")
        if isinstance(digest, str):
            self.case_digests.add(digest)
            if transition and self.assigned_case_digest is None:
                self.assigned_case_digest = digest
        delivery_id = data.get("delivery_id")
        if isinstance(delivery_id, str):
            outcome = _delivery_outcome(history, to_status if transition else None)
            if outcome is not None:
                self.deliveries[delivery_id] = outcome


def _delivery_outcome(history: str, to_status: Any) -> str | None:
    """What an entry says happened to the delivery it names (see `relay_outcomes`)."""
    if to_status == "forwarded" or history.endswith("_delivered"):
        return "delivered"
    if to_status == "relay_failed" or history.endswith("_failed"):
        return "failed"
    if to_status == "received" or history.endswith("_replayed"):
        return "replayed"
    return None


class AuditedStates:
    """Every application's audited state, from entries fed in log order."""

    def __init__(self) -> None:
        self.applications: dict[str, AuditedApplication] = {}

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take entries (``seq``, ``kind``, ``application_id``, ``data`` as stored JSON text)."""
        for row in rows:
            application_id = row["application_id"]
            if application_id is None or not str(row["kind"]).startswith("application."):
                continue
            data = row["data"]
            parsed = json.loads(data) if isinstance(data, str) else data
            if isinstance(parsed, Mapping):
                audited = self.applications.setdefault(application_id, AuditedApplication())
                audited.add(int(row["seq"]), parsed)


def disagreements(
    application: Mapping[str, Any],
    audited: AuditedApplication | None,
    deliveries: Sequence[Mapping[str, Any]],
    case_digest: CaseDigest | None = None,
) -> list[Disagreement]:
    """How the stored `application` row (and its `deliveries` rows) differ from `audited`.

    The region case number is compared only when `case_digest` is given (it needs
    the PII index key).
    """
    app_id = str(application["id"])
    stored_status = str(application["status"])
    if audited is None or audited.status is None:
        return [
            Disagreement(app_id, "missing", stored_status, None,
                         f"application {app_id} is stored as {stored_status}, but the audit log "
                         "has no transition for it (a row written around the gateway)")
        ]  # fmt: skip
    found = []
    if stored_status != audited.status:
        found.append(
            Disagreement(app_id, "status", stored_status, audited.status,
                         f"application {app_id} is stored as {stored_status}, but its audit log "
                         f"ends in {audited.status} (entry {audited.status_seq})")
        )  # fmt: skip
    case_no = application.get("region_case_no")
    if case_digest is not None:
        if case_no and case_digest(str(case_no)) not in audited.case_digests:
            found.append(
                Disagreement(app_id, "region_case_no", "(set)", "(another or none)",
                             f"application {app_id} has a region case number the audit log "
                             "never recorded for it")
            )  # fmt: skip
        elif not case_no and audited.assigned_case_digest is not None:
            found.append(
                Disagreement(app_id, "region_case_no", None, "(set)",
                             f"application {app_id} has no region case number, but the audit "
                             "log recorded one being assigned")
            )  # fmt: skip
    states = {str(row["id"]): str(row["state"]) for row in deliveries}
    for delivery_id, outcome in audited.deliveries.items():
        if outcome == "replayed":
            continue
        stored = states.get(delivery_id)
        if stored != outcome:
            found.append(
                Disagreement(app_id, "delivery", stored, outcome,
                             f"application {app_id}: delivery {delivery_id} is stored as "
                             f"{stored or 'missing'}, but the audit log says {outcome}")
            )  # fmt: skip
    return found


_APPLICATIONS = (
    "SELECT id, status, region_case_no FROM applications WHERE id > :after ORDER BY id LIMIT :limit"
)
_DELIVERIES = (
    "SELECT id, application_id, state FROM deliveries "
    "WHERE application_id >= :first AND application_id <= :last"
)
_ONE_APPLICATION = "SELECT id, status, region_case_no FROM applications WHERE id = :id"
_ONE_DELIVERIES = "SELECT id, application_id, state FROM deliveries WHERE application_id = :id"
_ONE_ENTRIES = (
    "SELECT seq, kind, application_id, data FROM audit_entries "
    "WHERE application_id = :id ORDER BY seq"
)
_PAGE = 5_000
_RECHECKS = 3  # a mismatch must survive this many fresh reads: a live gateway moves on


async def compare_stored(
    store: Store, states: AuditedStates, case_digest: CaseDigest | None = None
) -> tuple[int, list[Disagreement]]:
    """Compare every stored application with `states`; return (applications checked, findings).

    The log was read before the rows, so a transition committed in between looks
    like a mismatch: each one is read again (row, deliveries and entries in one
    transaction) and reported only if it persists.
    """
    checked, suspects, seen = 0, [], set()
    after = ""
    while True:
        async with store.read() as conn:
            rows = await conn.fetch_all(_APPLICATIONS, {"after": after, "limit": _PAGE})
            if not rows:
                break
            first, last = str(rows[0]["id"]), str(rows[-1]["id"])
            delivery_rows = await conn.fetch_all(_DELIVERIES, {"first": first, "last": last})
        by_application: dict[str, list[Row]] = {}
        for delivery in delivery_rows:
            by_application.setdefault(str(delivery["application_id"]), []).append(delivery)
        for row in rows:
            app_id = str(row["id"])
            seen.add(app_id)
            audited = states.applications.get(app_id)
            if disagreements(row, audited, by_application.get(app_id, []), case_digest):
                suspects.append(app_id)
        checked += len(rows)
        after = str(rows[-1]["id"])
    found: list[Disagreement] = []
    for app_id in suspects:
        found.extend(await _recheck(store, app_id, case_digest))
    for app_id in sorted(set(states.applications) - seen):
        if not await _recheck(store, app_id, case_digest):
            continue
        found.append(
            Disagreement(app_id, "missing", None, states.applications[app_id].status,
                         f"application {app_id} is in the audit log but not stored")
        )  # fmt: skip
    return checked, found


async def _recheck(
    store: Store, application_id: str, case_digest: CaseDigest | None
) -> list[Disagreement]:
    """The disagreements of one application, read afresh until they persist `_RECHECKS` times."""
    found: list[Disagreement] = []
    for _ in range(_RECHECKS):
        async with store.read() as conn:
            params = {"id": application_id}
            row = await conn.fetch_one(_ONE_APPLICATION, params)
            deliveries = await conn.fetch_all(_ONE_DELIVERIES, params)
            entries = await conn.fetch_all(_ONE_ENTRIES, params)
        states = AuditedStates()
        states.add(entries)
        audited = states.applications.get(application_id)
        if row is None:
            found = [Disagreement(application_id, "missing", None, None, "")]
        else:
            found = disagreements(row, audited, deliveries, case_digest)
        if not found:
            return []
    return found
