"""The root of the gateway's settings: every section, and where each value came from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator

from gateway.config.adapters import AdaptersSettings
from gateway.config.console import ConsoleSettings
from gateway.config.federation import FederationSettings
from gateway.config.intake import ApplicationSettings, AttachmentSettings
from gateway.config.origins import Origins
from gateway.config.relay import RelaySettings
from gateway.config.retention import RetentionSettings
from gateway.config.section import Section
from gateway.config.security import AuditSettings, PartnerSettings, PiiSettings, SecuritySettings
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
    federation: FederationSettings = FederationSettings()

    _origins: Origins = PrivateAttr(default_factory=Origins)

    @model_validator(mode="after")
    def _peers_are_partners(self) -> Settings:
        """Each peer is also a partner here: one entry serves both directions."""
        federation = self.federation
        if not federation.peers:
            return self
        clash = sorted(
            peer_id
            for peer_id in federation.peers
            if peer_id in self.security.partners
            # ...unless it is this very entry, from an earlier validation
            and self.security.partners[peer_id].callback_url != federation.callback_url(peer_id)
        )
        if clash:
            raise ValueError(
                f"peer(s) {', '.join(clash)} also configured under security.partners: "
                "keep one entry, [federation.peers.ID]"
            )
        in_adapters = sorted(
            region
            for peer in federation.peers.values()
            for region in peer.regions
            if self.adapters.regions is not None and region in self.adapters.regions
        )
        if in_adapters:
            raise ValueError(
                f"region(s) {', '.join(in_adapters)} routed to a peer and also in "
                "adapters.regions: remove them from adapters.regions on this side"
            )
        partners = dict(self.security.partners)
        for peer_id, peer in federation.peers.items():
            # Built without validation: a JWKS peer's keys arrive at run time.
            partners[peer_id] = PartnerSettings.model_construct(
                name=peer.name or peer_id,
                keys=peer.keys,
                items=peer.items,
                callback_url=federation.callback_url(peer_id),
                rate_limit_per_minute=peer.rate_limit_per_minute,
                rate_limit_burst=peer.rate_limit_burst,
            )
        security = self.security.model_copy(update={"partners": partners})
        object.__setattr__(self, "security", security)  # frozen: set once, while validating
        return self

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
