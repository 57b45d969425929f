"""Trace by any ID: what happened to a request, an application or a region's case.

`find_trace` takes one identifier and resolves it to the application(s) it
belongs to, trying every kind of id the gateway hands out or receives:

- ``application_id``: the application's own id (UUIDv7);
- ``request_id``: the ``X-Request-ID`` of the submission, or of any later request
  about the application (supplement, withdrawal, rating), found in its audit entries;
- ``trace_id``: a W3C trace id the application was submitted under or that any of
  its audit entries carries;
- ``region_case_no``: the competent region's case number (受理编号).

For each application it builds one timeline, in time order: every audit entry
(which mirrors every history event: kind, actor, status change, request and
trace ids), with the history event's message (the region's own words, such as
已受理, or a dead letter's reason), and every delivery attempt (region, attempt
number, gateway instance, per-hop times: attempt start, request sent, response
received, end; duration; outcome, HTTP status or region code, error), then the
current status, due dates and totals (attempts, failures, time to forward), and
``audit_disagreements``: where the stored status or delivery state is not what the
audit entries say (see `gateway.audit.replay`; `tongban audit verify` checks every
application so).

No personal data: the application's applicant appears only as its masked copy,
audit data holds digests by construction, and the whole result is passed through
`redact` as a last guard (an error text or a message from a region could quote a
number).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from gateway.applications import records
from gateway.applications.clocks import local_date, now_utc
from gateway.audit.replay import AuditedStates, disagreements
from gateway.envelope import Status
from gateway.observability.redaction import redact
from gateway.store import Connection, Row, Store

__all__ = ["ID_KINDS", "MAX_APPLICATIONS", "find_trace", "resolve"]

ID_KINDS = ("application_id", "request_id", "trace_id", "region_case_no")
MAX_APPLICATIONS = 20
"""At most this many applications per trace (one trace id may span many)."""

# What any of our ids can look like; anything else cannot match, so is not looked up.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

# SQL as data: each kind of id and where it is found. Every lookup is indexed.
_RESOLVE = {
    "application_id": ("SELECT id AS application_id FROM applications WHERE id = :id",),
    "request_id": (
        "SELECT id AS application_id FROM applications WHERE request_id = :id",
        "SELECT DISTINCT application_id FROM audit_entries "
        "WHERE request_id = :id AND application_id IS NOT NULL",
    ),
    "trace_id": (
        "SELECT id AS application_id FROM applications WHERE trace_id = :id",
        "SELECT DISTINCT application_id FROM audit_entries "
        "WHERE trace_id = :id AND application_id IS NOT NULL",
    ),
    "region_case_no": (
        "SELECT id AS application_id FROM applications WHERE region_case_no = :id",
        "SELECT DISTINCT application_id FROM deliveries WHERE region_case_no = :id",
    ),
}
_ENTRIES = (
    "SELECT seq, time, kind, actor, request_id, trace_id, region, data FROM audit_entries "
    "WHERE application_id = :id ORDER BY seq"
)
# The history events the audit entries mirror, for what the audit keeps only as a
# digest: the region's own message (已受理), a dead letter's reason.
_HISTORY = (
    "SELECT actor, from_status, to_status, detail FROM application_events "
    "WHERE application_id = :id ORDER BY id"
)
_DELIVERIES = (
    "SELECT id, kind, destination AS region, state, attempts, replays, next_attempt_at, "
    "created_at, "
    "delivered_at, region_case_no, dead_reason_zh FROM deliveries "
    "WHERE application_id = :id ORDER BY created_at, id"
)
_ATTEMPTS = (
    "SELECT a.*, d.kind AS delivery_kind, d.destination AS region FROM delivery_attempts a "
    "JOIN deliveries d ON d.id = a.delivery_id WHERE d.application_id = :id "
    "ORDER BY a.started_at, a.attempt"
)


async def resolve(conn: Connection, identifier: str) -> dict[str, list[str]]:
    """The applications `identifier` names, each with the kinds of id it matched as.

    Ordered by application id (creation time); at most `MAX_APPLICATIONS`.
    """
    if not _SANE_ID.match(identifier):
        return {}
    found: dict[str, list[str]] = {}
    for kind in ID_KINDS:
        for query in _RESOLVE[kind]:
            for row in await conn.fetch_all(query, {"id": identifier}):
                kinds = found.setdefault(str(row["application_id"]), [])
                if kind not in kinds:
                    kinds.append(kind)
    return {key: found[key] for key in sorted(found)[:MAX_APPLICATIONS]}


def _utc(text: str | None) -> datetime | None:
    """Parse our stored times (``…Z`` audit times, ``…+00:00`` elsewhere)."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(text: str | None) -> str | None:
    """One time format for the whole timeline: UTC, milliseconds, ``Z``."""
    moment = _utc(text)
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(entry: Row) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(entry["data"])
    shown = {k: v for k, v in data.items() if k not in ("history_kind", "from_status", "to_status")}
    return {
        "type": "event",
        "at": _iso(entry["time"]),
        "seq": entry["seq"],
        "kind": entry["kind"],
        "actor": entry["actor"],
        "region": entry["region"],
        "from_status": data.get("from_status"),
        "to_status": data.get("to_status"),
        "request_id": entry["request_id"],
        "trace_id": entry["trace_id"],
        "message": None,
        "data": shown,
    }


def _add_messages(events: list[dict[str, Any]], history: list[Row]) -> None:
    """Give each audit event the message of the history event it mirrors.

    Each history event and its audit entry are written in one transaction, in the
    same order, so the two sequences pair up in order on actor and statuses.
    """
    remaining = iter(history)
    for event in events:
        for row in remaining:
            if (row["actor"], row["from_status"], row["to_status"]) == (
                event["actor"],
                event["from_status"],
                event["to_status"],
            ):
                detail = json.loads(row["detail"])
                text = detail.get("message") or detail.get("reason")
                event["message"] = text if isinstance(text, str) else None
                break


def _attempt(row: Row) -> dict[str, Any]:
    return {
        "type": "attempt",
        "at": _iso(row["started_at"]),
        "delivery_id": row["delivery_id"],
        "delivery_kind": row["delivery_kind"],
        "region": row["region"],
        "attempt": row["attempt"],
        "instance": row["instance"],
        "hops": {
            "started_at": _iso(row["started_at"]),
            "request_sent_at": _iso(row["request_sent_at"]),
            "response_received_at": _iso(row["response_received_at"]),
            "ended_at": _iso(row["ended_at"]),
        },
        "calls": row["calls"],
        "duration_ms": row["duration_ms"],
        "outcome": row["outcome"],
        "http_status": row["http_status"],
        "region_code": row["region_code"],
        "error_class": row["error_class"],
        "error": row["detail"],
    }


def _totals(
    application: Row, attempts: list[dict[str, Any]], deliveries: list[Row]
) -> dict[str, Any]:
    forwarded = next(
        (d for d in deliveries if d["kind"] == "submission" and d["delivered_at"]), None
    )
    created = _utc(application["created_at"])
    to_forward = None
    if forwarded is not None and created is not None:
        delivered = _utc(forwarded["delivered_at"])
        if delivered is not None:
            to_forward = round((delivered - created).total_seconds(), 3)
    return {
        "attempts": len(attempts),
        "failed_attempts": sum(1 for a in attempts if a["outcome"] != "delivered"),
        "deliveries": len(deliveries),
        "dead_letters": sum(1 for d in deliveries if d["state"] == "failed"),
        "attempt_time_ms": round(sum(a["duration_ms"] or 0 for a in attempts), 3),
        "time_to_forward_seconds": to_forward,
    }


async def _application_trace(
    conn: Connection, application_id: str, matched_as: list[str], due_soon_days: int
) -> dict[str, Any] | None:
    row = await conn.fetch_one("SELECT * FROM applications WHERE id = :id", {"id": application_id})
    if row is None:
        return None
    params = {"id": application_id}
    entry_rows = await conn.fetch_all(_ENTRIES, params)
    entries = [_event(entry) for entry in entry_rows]
    _add_messages(entries, await conn.fetch_all(_HISTORY, params))
    deliveries = await conn.fetch_all(_DELIVERIES, params)
    audited = AuditedStates()
    audited.add({**entry, "application_id": application_id} for entry in entry_rows)
    disagree = disagreements(row, audited.applications.get(application_id), deliveries)
    attempts = [_attempt(attempt) for attempt in await conn.fetch_all(_ATTEMPTS, params)]
    # Stable sort: at equal times, audit entries keep their log order and come first.
    timeline = sorted([*entries, *attempts], key=lambda item: _utc(item["at"]) or datetime.min)
    status = Status(row["status"])
    today = local_date(now_utc())
    return {
        "application_id": row["id"],
        "matched_as": matched_as,
        "item_code": row["item_code"],
        "status": status.value,
        "status_zh": status.label_zh,
        "receiving_region": row["receiving_region"],
        "competent_region": row["competent_region"],
        "region_case_no": row["region_case_no"],
        "channel": row["channel"],
        "submitted_by": row["submitted_by"],
        "request_id": row["request_id"],
        "trace_id": row["trace_id"],
        "applicant": json.loads(row["masked"]),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "supplement_due": row["supplement_due"],
        "due": records.due_state(row, today, due_soon_days),
        "deliveries": [
            {
                **delivery,
                "next_attempt_at": _iso(delivery["next_attempt_at"]),
                "created_at": _iso(delivery["created_at"]),
                "delivered_at": _iso(delivery["delivered_at"]),
            }
            for delivery in deliveries
        ],
        "timeline": timeline,
        "totals": _totals(row, attempts, deliveries),
        "audit_disagreements": [d.to_json() for d in disagree],
    }


async def find_trace(store: Store, identifier: str, *, due_soon_days: int = 3) -> dict[str, Any]:
    """The trace of everything `identifier` names: ``{"query", "applications": [...]}``.

    ``applications`` is empty when nothing matched (callers answer "not found").
    Read in one transaction, so the timeline is one consistent moment.
    """
    identifier = identifier.strip()
    async with store.read() as conn:
        matches = await resolve(conn, identifier)
        traces = []
        for application_id, kinds in matches.items():
            trace = await _application_trace(conn, application_id, kinds, due_soon_days)
            if trace is not None:
                traces.append(trace)
    result: dict[str, Any] = redact({"query": identifier, "applications": traces})
    return result
