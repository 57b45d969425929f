"""The gateway's settings: one immutable object, read once at the edge.

`load_settings` reads the TOML file, the ``TONGBAN_*`` environment and command-line
overrides into a `Settings` (see `gateway.config.loading`); everything else receives
that object. One module per idea: the HTTP surface (`server`), where state and data
live (`store`), trust (`security`), intake rules (`intake`), the relay (`relay`), the
region adapters (`adapters`: each region's own table, validated by its plugin) and
the console (`console`). This package's names below are the public surface.
"""

from gateway.config.adapters import AdaptersSettings
from gateway.config.console import ConsoleSettings
from gateway.config.federation import FederationSettings, PeerGatewaySettings
from gateway.config.intake import ApplicationSettings, AttachmentSettings
from gateway.config.loading import load_settings
from gateway.config.relay import MaintenanceWindowSettings, RegionRelaySettings, RelaySettings
from gateway.config.retention import RetentionSettings
from gateway.config.security import (
    AuditSettings,
    PartnerKeySettings,
    PartnerSettings,
    PiiSettings,
    SecuritySettings,
)
from gateway.config.server import LogSettings, MetricsSettings, OpsSettings, ServerSettings
from gateway.config.settings import Settings
from gateway.config.store import CalendarSettings, CatalogSettings, StoreSettings

__all__ = [
    "AdaptersSettings",
    "ApplicationSettings",
    "AttachmentSettings",
    "AuditSettings",
    "CalendarSettings",
    "CatalogSettings",
    "ConsoleSettings",
    "FederationSettings",
    "LogSettings",
    "MaintenanceWindowSettings",
    "MetricsSettings",
    "OpsSettings",
    "PartnerKeySettings",
    "PartnerSettings",
    "PeerGatewaySettings",
    "PiiSettings",
    "RegionRelaySettings",
    "RelaySettings",
    "RetentionSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
]
