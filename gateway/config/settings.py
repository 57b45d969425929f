"""The root of the gateway's settings: every section, and where each value came from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, PrivateAttr

from gateway.config.adapters import AdaptersSettings
from gateway.config.console import ConsoleSettings
from gateway.config.intake import ApplicationSettings, AttachmentSettings
from gateway.config.origins import Origins
from gateway.config.relay import RelaySettings
from gateway.config.retention import RetentionSettings
from gateway.config.section import Section
from gateway.config.security import AuditSettings, PiiSettings, SecuritySettings
from gateway.config.server import LogSettings, MetricsSettings, OpsSettings, ServerSettings
from gateway.config.store import CalendarSettings, CatalogSettings, StoreSettings


class Settings(Section):
    """Every setting of the gateway. Immutable; build it with `load_settings`."""

    data_dir: Path = Field(
        Path("var"), description="Directory for the embedded database, keys and attachments."
    )
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    catalog: CatalogSettings = CatalogSettings()
    calendar: CalendarSettings = CalendarSettings()
    log: LogSettings = LogSettings()
    relay: RelaySettings = RelaySettings()
    ops: OpsSettings = OpsSettings()
    security: SecuritySettings = SecuritySettings()
    applications: ApplicationSettings = ApplicationSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    pii: PiiSettings = PiiSettings()
    adapters: AdaptersSettings = AdaptersSettings()
    audit: AuditSettings = AuditSettings()
    metrics: MetricsSettings = MetricsSettings()
    console: ConsoleSettings = ConsoleSettings()
    retention: RetentionSettings = RetentionSettings()

    _origins: Origins = PrivateAttr(default_factory=Origins)

    def origin_of(self, loc: Sequence[str | int]) -> str | None:
        """Where the value at `loc` (``("adapters", "shenzhen", "url")``) was set, in
        words, for error messages; None for a default or settings not built by
        `load_settings`."""
        return self._origins.of(loc)

    @property
    def calendar_imported_directory(self) -> Path:
        """Where imported calendar years live (default: <data_dir>/calendar)."""
        return self.calendar.imported_directory or self.data_dir / "calendar"

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to an SQLite file in the data directory."""
        return self.store.url or f"sqlite:///{self.data_dir / 'tongban.db'}"
