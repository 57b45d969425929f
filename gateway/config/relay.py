"""Settings of the relay worker: polling, leases, and per-region retry, breaker and
maintenance windows."""

from __future__ import annotations

from datetime import time

from pydantic import Field, field_validator, model_validator

from gateway.config.section import Section


class MaintenanceWindowSettings(Section):
    """A weekly period when a region takes no deliveries (local time of the region)."""

    days: tuple[int, ...] = Field(min_length=1, description="Weekdays, 0 = Monday ... 6 = Sunday.")
    start: time = Field(description="Local start, e.g. 01:00.")
    end: time = Field(description="Local end; at or before start means the next day.")

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if not set(days) <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return days


class RegionRelaySettings(Section):
    """How the relay treats one region. Unset regions use these defaults."""

    # Places bound calls under way only (an answered delivery waiting for its COMMIT
    # holds none): this is how many requests the region sees at once at most. 16 is
    # polite to a region's system by default; raise it where the region agrees.
    concurrency: int = Field(
        16, ge=1, le=1000, description="Most calls to the region in flight at once."
    )
    retry_base_seconds: float = Field(30.0, gt=0, description="First backoff ceiling, seconds.")
    retry_max_seconds: float = Field(3600.0, gt=0, description="Largest backoff, seconds.")
    retry_max_attempts: int = Field(100, ge=1, description="Attempts before a dead letter.")
    retry_max_age_hours: float = Field(
        72.0, gt=0, description="Hours after queueing before a dead letter."
    )
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive transient failures that open the breaker."
    )
    breaker_reset_seconds: float = Field(
        60.0, gt=0, description="Seconds an open breaker waits before one probe."
    )
    closed: tuple[MaintenanceWindowSettings, ...] = Field(
        (), description="Maintenance windows and off-hours: deliveries are held, not failed."
    )
    poll_seconds: float = Field(
        30.0, gt=0, description="For regions whose results are polled: seconds between polls."
    )

    @model_validator(mode="after")
    def _delays(self) -> RegionRelaySettings:
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("retry_max_seconds must be at least retry_base_seconds")
        return self


class RelaySettings(Section):
    """The relay worker: claims due deliveries and sends them to their regions."""

    enabled: bool = Field(True, description="Run the relay worker in this process.")
    poll_interval: float = Field(
        0.5, gt=0, le=60, description="Seconds between looks for due deliveries when idle."
    )
    lease_seconds: float = Field(
        120.0, gt=0, description="A claim's lease; a crashed worker's claims expire after it."
    )
    in_call_attempts: int = Field(
        2, ge=1, le=5, description="Quick tries per attempt for timeouts and resets."
    )
    shutdown_grace_seconds: float = Field(
        5.0, ge=0, description="On shutdown, seconds in-flight calls may finish before release."
    )
    default: RegionRelaySettings = RegionRelaySettings()
    regions: dict[str, RegionRelaySettings] = Field(
        default_factory=dict, description="Per-region overrides of `default`, by region key."
    )

    def for_region(self, region: str) -> RegionRelaySettings:
        return self.regions.get(region, self.default)
