"""The messages exchanged with regions: envelopes out, status events back.

An `Envelope` is the canonical form of one thing the gateway delivers to a region
(a submission, a supplement, a withdrawal or a rating), or to a partner (a
status notice, its webhook). Adapters translate it into
the region's native protocol; the relay delivers it; the security layer signs its
canonical JSON. Its ``idempotency_key`` stays the same across every retry and
replay, so a region that sees it twice creates one case.

A `StatusEvent` is what a region reports back (pushed to a callback or polled),
already mapped from the region's native codes onto `Status`, the application's
lifecycle, whose one home is here so adapters need nothing else from the core.

With `adapters.base` and the exception tree in `gateway.errors`, this module is the
whole contract a region plugin imports: frozen pydantic models, never the core's
internals.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.catalog.models import Channel, HandlingMode, TrustLevel


class Status(StrEnum):
    """Where an application (办件) stands, after the national case lifecycle.

    Labels are the Chinese words staff see; adapters map regions' codes onto these.
    """

    RECEIVED = "received"
    FORWARDED = "forwarded"
    ACCEPTED = "accepted"
    IN_REVIEW = "in_review"
    SUPPLEMENT_REQUIRED = "supplement_required"
    SPECIAL_PROCEDURE = "special_procedure"
    APPROVED = "approved"
    DENIED = "denied"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    RELAY_FAILED = "relay_failed"

    @property
    def label_zh(self) -> str:
        return _LABELS[self]

    @property
    def is_final(self) -> bool:
        """True once the region has decided or the case has ended."""
        return self in FINAL_STATUSES


_LABELS = {
    Status.RECEIVED: "收件",
    Status.FORWARDED: "已转发",
    Status.ACCEPTED: "受理",
    Status.IN_REVIEW: "办理中",
    Status.SUPPLEMENT_REQUIRED: "补正",
    Status.SPECIAL_PROCEDURE: "特别程序",
    Status.APPROVED: "准予",
    Status.DENIED: "不予",
    Status.DELIVERED: "已送达",
    Status.REJECTED: "不予受理",
    Status.WITHDRAWN: "撤回",
    Status.RELAY_FAILED: "转发失败",
}

FINAL_STATUSES = frozenset(
    {Status.APPROVED, Status.DENIED, Status.DELIVERED, Status.REJECTED, Status.WITHDRAWN}
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Frozen):
    """An applicant or agent as the region needs to see them (in the clear)."""

    kind: Literal["person", "enterprise"]
    name: str
    id_type: str = Field(
        description="resident_id, passport, hk_macao_permit, taiwan_permit, uscc (enterprise)"
    )
    id_number: str
    phone: str | None = None
    legal_representative: str | None = None


class EnvelopeMaterial(_Frozen):
    """One material: provided (with attachment digests) or deferred under 容缺."""

    material_id: str
    material_name: str
    provided: bool
    trust_level: TrustLevel
    attachments: tuple[str, ...] = Field(
        (), description="SHA-256 hex digests of the attached files."
    )


class ResultHandOver(_Frozen):
    """How the decision is handed over to the applicant: window pickup or mail (双邮寄).

    Not a relay delivery (an outbox job); the JSON field holding it is ``delivery``.
    """

    method: Literal["window_pickup", "mail"]
    address: str | None = None


class SubmissionBody(_Frozen):
    """A new application for the competent region."""

    kind: Literal["submission"] = "submission"
    handling_mode: HandlingMode
    channel: Channel
    applicant: Party
    agent: Party | None = None
    materials: tuple[EnvelopeMaterial, ...]
    form: dict[str, Any] = Field(default_factory=dict)
    delivery: ResultHandOver
    supplement_deadline: date | None = Field(
        None, description="Set when some materials are deferred (容缺受理)."
    )


class SupplementBody(_Frozen):
    """Materials supplied later (补正 or 容缺)."""

    kind: Literal["supplement"] = "supplement"
    materials: tuple[EnvelopeMaterial, ...] = Field(min_length=1)


class WithdrawalBody(_Frozen):
    """The applicant withdraws before a decision."""

    kind: Literal["withdrawal"] = "withdrawal"
    reason: str


class RatingBody(_Frozen):
    """好差评: five levels (5 非常满意 … 1 非常不满意) and per-indicator scores."""

    kind: Literal["rating"] = "rating"
    level: int = Field(ge=1, le=5)
    indicators: dict[str, int] = Field(default_factory=dict)
    comment: str | None = None


class StatusNoticeBody(_Frozen):
    """A status change told to the partner that submitted the application (its webhook).

    Goes to the partner, not a region, and carries no personal data: only the
    statuses, when, and the identifiers the partner already holds.
    """

    kind: Literal["status_notice"] = "status_notice"
    application_id: str
    status: Status
    previous_status: Status | None = None
    occurred_at: datetime
    region_case_no: str | None = None
    event_seq: int | None = Field(
        None, description="Position of the change in the gateway's audit log (grows per change)."
    )


EnvelopeBody = Annotated[
    SubmissionBody | SupplementBody | WithdrawalBody | RatingBody | StatusNoticeBody,
    Field(discriminator="kind"),
]


class Envelope(_Frozen):
    """One deliverable message for one region."""

    envelope_id: str = Field(description="Unique id of this message.")
    idempotency_key: str = Field(description="Same across retries and replays of this message.")
    application_id: str
    request_id: str
    trace_id: str | None = None
    item_code: str
    task_code: str | None = None
    receiving_region: str = Field(description="收件地")
    competent_region: str = Field(description="业务属地: where the envelope goes")
    region_case_no: str | None = Field(
        None, description="The region's case number, for follow-ups after the submission."
    )
    created_at: datetime
    body: EnvelopeBody

    @property
    def kind(self) -> str:
        return self.body.kind


class RegionAck(_Frozen):
    """A region's answer to a delivered envelope."""

    region_case_no: str = Field(description="The region's own case number (受理编号).")
    received_at: datetime | None = None
    duplicate: bool = Field(False, description="The region had seen this idempotency key.")
    receipt: dict[str, Any] | None = Field(
        None,
        description="The region's own signed receipt, where it gives one (a peer gateway): "
        "kept with the delivery as proof of hand-over.",
    )


class StatusEvent(_Frozen):
    """A status change reported by a region, mapped onto our `Status`."""

    event_id: str = Field(description="Unique per region event, for deduplication.")
    region: str
    region_case_no: str
    application_id: str | None = None
    status: Status
    occurred_at: datetime
    region_code: str | None = Field(None, description="The region's native status code.")
    message: str | None = None
    missing_materials: tuple[str, ...] = Field((), description="Material ids to supplement (补正).")
    supplement_deadline: date | None = None
    certificate_no: str | None = Field(None, description="结果证照编号")
    mail_tracking_no: str | None = None
