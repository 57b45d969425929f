"""How long personal data of a closed case is kept before it is purged."""

from __future__ import annotations

from pydantic import Field

from gateway.config.section import Section


class RetentionSettings(Section):
    """How long personal data of a closed case is kept (个人信息保护法 §19), then purged.

    The default, 180 days after the case closes, covers the six months in which the
    applicant may bring an administrative suit over the decision (行政诉讼法 §46); the
    case file itself is archived by the competent region, not by this gateway.
    """

    personal_data_days: float = Field(
        180.0, ge=0, description="Days after a case closes before its personal data is purged."
    )
    purge_enabled: bool = Field(
        True, description="Run the purge job in this process (`tongban purge` works either way)."
    )
    purge_interval_seconds: float = Field(
        3600.0, gt=0, description="Seconds between runs of the purge job."
    )
    purge_batch: int = Field(
        200, ge=1, le=10_000, description="Cases purged per transaction (keeps writes short)."
    )
