"""Settings of the staff web console."""

from __future__ import annotations

from pydantic import Field

from gateway.config.section import Section


class ConsoleSettings(Section):
    """The staff web console (``/console/``): sign-in lockout and session lifetime."""

    idle_minutes: float = Field(
        30.0, gt=0, le=24 * 60, description="A session unused this long ends; sign in again."
    )
    max_failed_logins: int = Field(
        5, ge=1, le=100, description="Wrong passwords in a row that lock an account."
    )
    lockout_minutes: float = Field(
        15.0, gt=0, le=24 * 60, description="How long a locked account stays locked."
    )
    public_url: str | None = Field(
        None,
        description="The console's address as staff reach it (for the receipt's QR code); "
        "unset: taken from the request.",
    )
