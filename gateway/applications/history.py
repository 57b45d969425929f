"""An application's row and its history: the one door for history writes.

`record_event` appends a history event and mirrors it into the audit log
(`Journal`) on the caller's transaction, so both commit or roll back together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.applications.clocks import now_utc
from gateway.applications.journal import Journal
from gateway.audit import Position
from gateway.errors import ApplicationNotFound
from gateway.store import Connection, Row


async def load(conn: Connection, application_id: str) -> Row:
    """The application row; raise `ApplicationNotFound`."""
    row = await conn.fetch_one("SELECT * FROM applications WHERE id = :id", {"id": application_id})
    if row is None:
        raise ApplicationNotFound(application_id)
    return row


async def record_event(
    conn: Connection,
    application: Mapping[str, Any],
    kind: str,
    *,
    journal: Journal,
    actor: str,
    occurred_at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    region_event_id: str | None = None,
    request_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Position:
    """Append one history event and its audit entry; return the audit position.

    Every history write of the package goes through here. `application` is the
    application row (its id, item code and competent region are used). Both rows
    are written on the caller's transaction, so they commit or roll back together.
    `request_id` defaults to the detail's ``request_id``. Raises `InvalidAuditEntry`
    (e.g. a malformed actor) or `StoreError`.
    """
    details = dict(detail or {})
    detail_text = json.dumps(details, ensure_ascii=False, default=str)
    await conn.execute(
        "INSERT INTO application_events (application_id, kind, from_status, to_status, actor, "
        "region_event_id, occurred_at, recorded_at, detail) VALUES (:application_id, :kind, "
        ":from_status, :to_status, :actor, :region_event_id, :occurred_at, :recorded_at, :detail)",
        {
            "application_id": application["id"],
            "kind": kind,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "region_event_id": region_event_id,
            "occurred_at": occurred_at.isoformat(),
            "recorded_at": now_utc().isoformat(),
            "detail": detail_text,
        },
    )
    # On PostgreSQL the append holds the audit lock until the transaction ends (`AuditLog`).
    return await journal.append(
        conn,
        application,
        kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        region_event_id=region_event_id,
        request_id=request_id or details.get("request_id"),
        detail=json.loads(detail_text),  # as JSON types, what the history row holds
    )
