"""Settings of where the gateway keeps state and reads its data: the store, the
catalogue and the working-day calendar."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.section import Section
from gateway.resources import packaged_calendar_dir, packaged_catalog_dir


class StoreSettings(Section):
    """Where the gateway keeps its state."""

    url: str | None = Field(
        None,
        description=(
            "sqlite:///PATH (embedded, the default: <data_dir>/tongban.db) or "
            "postgresql://USER@HOST:PORT/DB."
        ),
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full",
        description=(
            "SQLite fsync policy. 'full' survives power loss; 'normal' survives a process "
            "crash only, and is faster."
        ),
    )
    busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a write waits for a lock before failing, in ms."
    )
    pool_min_size: int = Field(
        1, ge=0, description="PostgreSQL: connections each process keeps open when idle."
    )
    pool_max_size: int = Field(
        10, ge=1, description="PostgreSQL: most connections each process opens at once."
    )
    connect_timeout_s: float = Field(
        10.0,
        gt=0,
        description=(
            "PostgreSQL: seconds to wait for a new connection, or for a free one when "
            "the pool is exhausted, before the store reports itself unavailable."
        ),
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return url

    @model_validator(mode="after")
    def _pool_sizes_ordered(self) -> StoreSettings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self


class CatalogSettings(Section):
    """The service catalogue data."""

    directory: Path | None = Field(
        None,
        description=(
            "Directory with regions.toml and one <region>.yaml per region. Unset: the sample "
            "catalogue shipped inside the package (`tongban catalog stats` says which is in use)."
        ),
    )

    @property
    def location(self) -> Path:
        """The directory to load: `directory` if set, else the packaged sample catalogue."""
        return self.directory if self.directory is not None else packaged_catalog_dir()


class CalendarSettings(Section):
    """The working-day calendar: holiday schedules per year (CN-YYYY.toml, REGION-YYYY.toml)."""

    directory: Path | None = Field(
        None,
        description="Directory of the shipped calendar files, one per year (and region). "
        "Unset: the calendar shipped inside the package (the packaged catalogue's calendar/).",
    )
    imported_directory: Path | None = Field(
        None,
        description="Where `tongban calendar import` writes years; they replace shipped "
        "ones. Default <data_dir>/calendar.",
    )
    reload_seconds: float = Field(
        60.0,
        gt=0,
        description="How often a running gateway looks for changed calendar files and "
        "recomputes the due dates that depend on them.",
    )

    @property
    def location(self) -> Path:
        """The shipped-calendar directory to read: `directory` if set, else the packaged one."""
        return self.directory if self.directory is not None else packaged_calendar_dir()
