"""Settings of the region adapters: which must be open, outbound HTTP limits, and
each region's own table.

The core names no region. Each ``[adapters.REGION]`` table (or
``TONGBAN_ADAPTERS__REGION__KEY`` variable) belongs to that region's plugin: the core
hands it over untouched and the plugin validates it with its own settings model at
start-up (`adapters.base.AdapterConfig.settings_as`), so a bad value fails boot with
the file and line, or the variable, that set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from gateway.config.section import Section


class AdaptersSettings(Section):
    """Region adapters: where results come back, outbound HTTP limits, regions' tables.

    Every key that is not a field below must be a table: one region's settings.
    """

    # Region tables are the extra keys; `_only_region_tables` refuses anything else.
    model_config = ConfigDict(frozen=True, extra="allow")

    regions: tuple[str, ...] | None = Field(
        None,
        description="Regions that must have exactly one adapter; start-up fails otherwise. "
        "Unset: every installed adapter.",
    )
    callback_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="Our public base URL; push regions call BASE/v1/regions/REGION/callbacks.",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds for one outbound request.")
    connect_timeout: float = Field(3.0, gt=0, le=60, description="Seconds to open a connection.")
    health_timeout: float = Field(
        1.5, gt=0, le=10, description="Seconds a region's health probe may take (/readyz)."
    )
    # Room for several regions' relay lanes at full concurrency: a call waiting for a
    # free connection spends its own timeout waiting.
    pool_size: int = Field(256, ge=1, description="Most open connections, over all regions.")

    @model_validator(mode="after")
    def _only_region_tables(self) -> AdaptersSettings:
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"unknown setting {key!r}: a region's settings are a table "
                    f"[adapters.{key}] (its plugin says which keys it takes)"
                )
        return self

    @property
    def region_tables(self) -> dict[str, Mapping[str, Any]]:
        """Every ``[adapters.REGION]`` table, by region, as written (not yet validated)."""
        return dict(self.model_extra or {})

    def region_table(self, region: str) -> Mapping[str, Any]:
        """The ``[adapters.REGION]`` table of `region`; empty when none is set."""
        table = (self.model_extra or {}).get(region)
        return table if isinstance(table, Mapping) else {}
