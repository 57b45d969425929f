"""The statuses of an application (办件), after the national case lifecycle.

The state machine that moves between them lives in its own module; this one only
names them, so adapters can map a region's native codes onto them.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where an application stands. Labels are the Chinese words staff see."""

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
