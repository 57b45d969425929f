"""Settings of intake: rules for applications (办件) and their uploaded materials."""

from __future__ import annotations

from pydantic import Field

from gateway.config.section import Section


class ApplicationSettings(Section):
    """Intake rules for applications (办件)."""

    duplicate_window_minutes: int = Field(
        30,
        ge=0,
        description=(
            "Same applicant + item + materials again within this many minutes is answered "
            "with the existing application; 0 turns business duplicate detection off."
        ),
    )
    supplement_working_days: int = Field(
        5, ge=1, le=60, description="Working days an applicant has to supply 容缺 materials."
    )
    due_soon_working_days: int = Field(
        3, ge=0, le=30, description="A case is 'due soon' within this many working days."
    )
    idempotency_retention_hours: int = Field(
        72, ge=1, description="How long an Idempotency-Key is remembered, in hours."
    )


class AttachmentSettings(Section):
    """Uploaded files (materials), stored by SHA-256 under <data_dir>/attachments."""

    max_bytes: int = Field(20_971_520, gt=0, description="Largest attachment, in bytes.")
    media_types: tuple[str, ...] = Field(
        ("application/pdf", "image/jpeg", "image/png", "application/ofd"),
        description="Media types accepted for attachments.",
    )
