"""Every history event of an application is also an audit entry: this maps one to the other.

`history.record_event` is the one door for history writes; it hands each
event to `Journal.append`, which appends the matching tamper-evident audit entry
on the same transaction, so the two commit or roll back together.

The audit entry holds no personal data in the clear. Its ``data`` keeps only what
the gateway itself chose (statuses, item code, material ids, attachment and body
digests, delivery ids, rating level, the region's result code); every other
value in the history detail (a region's free-text message, a withdrawal reason, a
certificate or tracking number) is recorded as a keyed digest
(``hmac-sha256:…`` under the PII index key), which binds the text without
revealing it and stays meaningless once the personal data is purged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.audit import AuditLog, Position, looks_personal
from gateway.observability.tracecontext import trace_for
from gateway.security.pii import PiiCipher
from gateway.store import Connection

if TYPE_CHECKING:
    from gateway.applications.notices import PartnerNotices

# Detail members kept in the clear: values the gateway made or checked itself.
_CLEAR = frozenset(
    {
        "attachments",
        "attested",
        "calendar_basis",
        "channel",
        "delivery_id",
        "handling_mode",
        "item_code",
        "leg",
        "legal_due",
        "level",
        "materials",
        "missing_materials",
        "previous_calendar_basis",
        "previous_legal_due",
        "previous_promised_due",
        "promised_due",
        "receiving_region",
        "deferred_materials",
        "region_code",
        "remaining",
        "setting",
        "submission",
        "supplement_deadline",
    }
)
# Members that travel in their own audit column, not in data.
_COLUMNS = frozenset({"request_id"})
_KINDS = {
    "supplement": "application.supplement",
    "rating": "application.rated",
    "ignored": "application.region_event_ignored",
}


def _personal_shaped(value: Any) -> bool:
    if isinstance(value, str):
        return looks_personal(value)
    if isinstance(value, Mapping):
        return any(_personal_shaped(k) or _personal_shaped(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_personal_shaped(item) for item in value)
    return False


def audit_pseudonym(cipher: PiiCipher, name: str, value: Any) -> str:
    """The ``<name>_digest`` the audit data holds for `value` (keyed by the PII index key)."""
    return "hmac-sha256:" + cipher.blind_index(f"audit.{name}", str(value))


def detail_without_personal_data(
    cipher: PiiCipher, kind: str, detail: Mapping[str, Any]
) -> dict[str, Any]:
    """A history event's `detail` as the audit keeps it: the members the gateway made
    in the clear, every other value (free text, tracking numbers) as a keyed digest.

    The retention purge rewrites a purged case's history details to this same form.
    """
    kept: dict[str, Any] = {}
    for name, value in detail.items():
        if name in _COLUMNS or value is None:
            continue
        # An ignored event's reason is one of our own codes (stale, final_state...);
        # any other reason (a withdrawal's) is the applicant's own words.
        clear = name in _CLEAR or (kind == "ignored" and name == "reason")
        if clear and not _personal_shaped(value):
            kept[name] = value
        else:
            kept[f"{name}_digest"] = audit_pseudonym(cipher, name, value)
    return kept


def audit_kind(kind: str, from_status: str | None, to_status: str | None) -> str:
    """The audit kind of a history event (``application.received``, ``…status_changed``…)."""
    if kind == "transition":
        if from_status is None and to_status == "received":
            return "application.received"
        if to_status == "withdrawn":
            return "application.withdrawn"
        return "application.status_changed"
    return _KINDS.get(kind, f"application.{kind}")


def audit_actor(actor: str) -> str:
    """The audit form of a history actor: a bare component name (``relay``) is ``system:relay``."""
    return actor if ":" in actor or actor == "system" else f"system:{actor}"


@dataclass(frozen=True)
class Journal:
    """The audit log the history is mirrored into, and the key that pseudonymises free text.

    `notices`, when set, queues partner webhooks for status changes: every
    transition already receives the journal, so this is how the partner settings
    reach it.
    """

    audit: AuditLog
    cipher: PiiCipher
    notices: PartnerNotices | None = None

    def pseudonym(self, name: str, value: Any) -> str:
        """A keyed digest of `value` (separated by member `name`), for the audit data."""
        return audit_pseudonym(self.cipher, name, value)

    def data(
        self,
        kind: str,
        *,
        item_code: str | None,
        from_status: str | None,
        to_status: str | None,
        region_event_id: str | None,
        detail: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The audit entry's ``data`` for one history event: no personal data in the clear."""
        data: dict[str, Any] = {"history_kind": kind}
        for name, value in (
            ("item_code", item_code),
            ("from_status", from_status),
            ("to_status", to_status),
            ("region_event_id", region_event_id),
        ):
            if value is not None:
                data[name] = value
        data.update(detail_without_personal_data(self.cipher, kind, detail))
        # A region's own identifiers are not ours to trust: one shaped like an ID or
        # phone number would be refused by the log and block the event, so digest it.
        if region_event_id is not None and looks_personal(region_event_id):
            data["region_event_id"] = self.pseudonym("region_event_id", region_event_id)
        return data

    async def append(
        self,
        conn: Connection,
        application: Mapping[str, Any],
        kind: str,
        *,
        actor: str,
        from_status: str | None,
        to_status: str | None,
        region_event_id: str | None,
        request_id: str | None,
        detail: Mapping[str, Any],
    ) -> Position:
        """Append the audit entry for one history event on `conn`; return its position.

        The entry's trace id is the current trace (`bind_trace`: the request or relay
        job at work), else the application's own.

        Raises `InvalidAuditEntry` (a malformed actor or request id) or `StoreError`;
        either way the caller's transaction, history event included, rolls back.
        """
        return await self.audit.append(
            conn,
            kind=audit_kind(kind, from_status, to_status),
            actor=audit_actor(actor),
            application_id=str(application["id"]),
            request_id=request_id or None,
            trace_id=trace_for(application),
            region=application.get("competent_region"),
            data=self.data(
                kind,
                item_code=application.get("item_code"),
                from_status=from_status,
                to_status=to_status,
                region_event_id=region_event_id,
                detail=detail,
            ),
        )

    async def received_position(self, conn: Connection, application_id: str) -> Position | None:
        """The position of an application's ``application.received`` entry, if any."""
        row = await conn.fetch_one(
            "SELECT seq, leaf_hash FROM audit_entries WHERE application_id = :id "
            "AND kind = 'application.received' ORDER BY seq LIMIT 1",
            {"id": application_id},
        )
        return None if row is None else Position(int(row["seq"]), bytes(row["leaf_hash"]))
