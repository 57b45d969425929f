"""The gateway's settings: one immutable object, read once at the edge.

Sources, highest priority first: command-line overrides, ``TONGBAN_*`` environment
variables (nested keys joined by ``__``, e.g. ``TONGBAN_SERVER__PORT=9000``), the TOML
file given with ``--config``, the defaults below. `load_settings` is the only reader of
the environment; everything else receives a `Settings`.

Parsed by hand rather than with pydantic-settings: that library reads ``os.environ``
itself, while we want the environment passed in (testable, read once at the edge).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.config_origin import Origins
from gateway.errors import ConfigError
from gateway.resources import packaged_calendar_dir, packaged_catalog_dir

ENV_PREFIX = "TONGBAN_"
ENV_NESTED_DELIMITER = "__"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Section):
    """The HTTP listener."""

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    shutdown_timeout: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds to let in-flight requests finish after SIGTERM/SIGINT.",
    )
    max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body accepted, in bytes (JSON routes)."
    )
    idle_timeout: float = Field(
        15.0,
        gt=0,
        description=(
            "Seconds a connection may stay without a complete request header, whether new, "
            "dripping its header or idle between requests; then it is closed."
        ),
    )
    body_timeout: float = Field(
        30.0, gt=0, description="Seconds a client has to send a request's whole body (else 408)."
    )
    max_connections_per_ip: int = Field(
        0,
        ge=0,
        description=(
            "Open connections one client address may hold; 0 = no cap (behind a reverse "
            "proxy every client has the proxy's address: cap there, see deploy/)."
        ),
    )


class StoreSettings(_Section):
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


class CatalogSettings(_Section):
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


class CalendarSettings(_Section):
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


class LogSettings(_Section):
    """Structured logging."""

    format: Literal["json", "console"] = Field(
        "json", description="'json' lines for production, 'console' for people."
    )
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written."
    )


class PartnerKeySettings(_Section):
    """One public key a partner signs with, valid from `not_before` until `not_after`."""

    keyid: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The keyid the partner puts in Signature-Input; default: the key's "
        "RFC 7638 JWK thumbprint.",
    )
    public_key: str = Field(
        description="Ed25519 public key: PEM (BEGIN PUBLIC KEY) or the JWK 'x' (base64url); "
        "or SM2 (alg sm2-sm3): PEM or the hex point 04||x||y."
    )
    not_before: AwareDatetime | None = Field(None, description="Refused before this instant.")
    not_after: AwareDatetime | None = Field(None, description="Refused from this instant on.")


class PartnerSettings(_Section):
    """A partner region's system allowed to call the partner REST API."""

    name: str = Field("", description="Human name, for logs and the console.")
    keys: tuple[PartnerKeySettings, ...] = Field(
        min_length=1, description="Its public keys; several overlap during a rotation."
    )
    items: tuple[str, ...] = Field(
        (),
        description="Items it may submit: exact codes, 'PREFIX*', '@group' "
        "(security.item_groups) or '*' for all.",
    )
    callback_url: str | None = Field(
        None, pattern=r"^https?://", description="Where its status webhooks are sent."
    )
    rate_limit_per_minute: int = Field(600, gt=0, description="Sustained requests per minute.")
    rate_limit_burst: int = Field(60, gt=0, description="Requests allowed at once above that.")


class SecuritySettings(_Section):
    """Gateway signing keys and partner authentication (RFC 9421 / RFC 9530)."""

    keys_dir: Path | None = Field(
        None, description="Gateway key ring and encrypted private keys; default <data_dir>/keys."
    )
    key_passphrase: SecretStr | None = Field(
        None,
        description="Passphrase encrypting every key at rest (gateway keys, audit checkpoint "
        "key, PII key ring); set it through TONGBAN_SECURITY__KEY_PASSPHRASE, not in a file.",
    )
    key_grace_days: float = Field(
        30.0, ge=0, description="Days a rotated-out gateway key stays published in the JWKS."
    )
    max_clock_skew: int = Field(
        300, gt=0, le=3600, description="Seconds a signature's 'created' may differ from now."
    )
    require_nonce: bool = Field(
        True,
        description=(
            "Refuse partner requests whose signature has no single-use nonce (replay "
            "protection); false only for partners whose signing library cannot add one."
        ),
    )
    public_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+$",
        description="Scheme and authority partners call (https://gw.example.gov.cn), used "
        "for @target-uri behind a TLS proxy; default: what the request says.",
    )
    item_groups: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Named item lists partners' 'items' can use as '@name'."
    )
    partners: dict[str, PartnerSettings] = Field(
        default_factory=dict, description="Partner id -> partner ([security.partners.ID])."
    )

    @model_validator(mode="after")
    def _groups_exist(self) -> SecuritySettings:
        for partner_id, partner in self.partners.items():
            for rule in partner.items:
                if rule.startswith("@") and rule[1:] not in self.item_groups:
                    raise ValueError(f"partner {partner_id!r}: unknown item group {rule!r}")
        return self


class ApplicationSettings(_Section):
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


class AttachmentSettings(_Section):
    """Uploaded files (materials), stored by SHA-256 under <data_dir>/attachments."""

    max_bytes: int = Field(20_971_520, gt=0, description="Largest attachment, in bytes.")
    media_types: tuple[str, ...] = Field(
        ("application/pdf", "image/jpeg", "image/png", "application/ofd"),
        description="Media types accepted for attachments.",
    )


class PiiSettings(_Section):
    """Encryption of personal data at rest (AES-256-GCM) and its blind index (HMAC)."""

    keys: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Data keys by key id, base64 of 32 bytes. Empty: a key ring is generated once "
            "under <data_dir>/keys/pii.json (demo only)."
        ),
    )
    active_key: str | None = Field(
        None, description="Key id new data is sealed with (default: the last id in order)."
    )
    index_key: str | None = Field(
        None, description="Blind-index HMAC key, base64; required when keys is set."
    )


_DEMO = "demo value: works with `tongban sandbox`; change it in production"


class AdaptersSettings(_Section):
    """Region adapters: where each region is, its credentials, and outbound HTTP limits.

    The defaults match the sandboxes' defaults (`tongban sandbox REGION`), so the demo
    works without a file. Third-party adapters take theirs from ``plugins``.
    """

    regions: tuple[str, ...] = Field(
        ("shenzhen", "dongguan", "zhangjiagang", "peer"),
        description="Regions that must have exactly one adapter; start-up fails otherwise.",
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
    pool_size: int = Field(100, ge=1, description="Most open connections, over all regions.")
    shenzhen_url: str = Field("http://127.0.0.1:8101", description="Shenzhen open platform.")
    shenzhen_app_id: str = Field("tongban-demo", description="Our appId at the Shenzhen platform.")
    shenzhen_app_secret: SecretStr = Field(
        SecretStr("demo-shenzhen-secret"), description=f"HMAC-SHA256 key; {_DEMO}."
    )
    dongguan_url: str = Field("http://127.0.0.1:8102", description="Dongguan SOAP service.")
    dongguan_username: str = Field("tongban", description="WS-Security UsernameToken user.")
    dongguan_password: SecretStr = Field(
        SecretStr("demo-dongguan-password"), description=f"UsernameToken password; {_DEMO}."
    )
    zhangjiagang_url: str = Field("http://127.0.0.1:8103", description="Zhangjiagang 国密 API.")
    zhangjiagang_app_id: str = Field("tongban-demo", description="Our appId at Zhangjiagang.")
    zhangjiagang_sm2_public_key: str = Field(
        "04d504f50a79a683257fb052a12a6f68c51fc777a63af87104c77dde1606c3daa2"
        "05aff2319910e2a10943e18ef782ff357a9b5297d73004b604d7c5e63b36092e",
        description="Zhangjiagang's SM2 public key (PEM, or the hex point 04||x||y): "
        f"verifies its answers and results, receives our session keys; {_DEMO}. "
        "Our own SM2 key is the gateway's (`tongban keys generate --alg sm2`).",
    )
    peer_url: str = Field("http://127.0.0.1:8104", description="The peer Tongban gateway.")
    plugins: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Third-party adapters' settings by region: base_url plus their own keys.",
    )

    def for_region(self, region: str) -> dict[str, str]:
        """The settings of `region` as flat strings: ``base_url`` plus its credentials."""
        secrets = {
            "shenzhen": {
                "base_url": self.shenzhen_url,
                "app_id": self.shenzhen_app_id,
                "app_secret": self.shenzhen_app_secret.get_secret_value(),
            },
            "dongguan": {
                "base_url": self.dongguan_url,
                "username": self.dongguan_username,
                "password": self.dongguan_password.get_secret_value(),
            },
            "zhangjiagang": {
                "base_url": self.zhangjiagang_url,
                "app_id": self.zhangjiagang_app_id,
                "sm2_public_key": self.zhangjiagang_sm2_public_key,
            },
            "peer": {"base_url": self.peer_url},
        }
        return dict(self.plugins.get(region) or secrets.get(region) or {})


class AuditSettings(_Section):
    """The audit log's signed checkpoints."""

    checkpoint_every_entries: int = Field(
        1000, ge=1, description="Sign a checkpoint once this many entries were appended..."
    )
    checkpoint_interval_seconds: float = Field(
        60.0, gt=0, description="...or this many seconds passed, whichever comes first."
    )
    signing_key_file: Path | None = Field(
        None,
        description=(
            "Ed25519 private key that signs checkpoints (PKCS#8 PEM encrypted under "
            "security.key_passphrase, public half beside it as *.pub.pem); created if "
            "missing. Unset means <data_dir>/keys/audit-checkpoint.pem."
        ),
    )


class PeerSettings(_Section):
    """Another Tongban gateway we exchange applications with ([federation.peers.NAME]).

    One entry serves both directions: we deliver the items of `regions` to it over its
    partner API, and it is a partner here (signing with the keys its JWKS publishes, or
    the pinned `keys`), submitting `items` and receiving status notices at its callback.
    """

    name: str = Field("", description="Human name, for logs and the console.")
    base_url: str = Field(pattern=r"^https?://[^?#]+$", description="The peer gateway's base URL.")
    jwks_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Where its public keys are published; default "
        "BASE_URL/.well-known/tongban/keys (unless `keys` pins them).",
    )
    keys: tuple[PartnerKeySettings, ...] = Field(
        (), description="Pinned public keys; with them and no jwks_url, nothing is fetched."
    )
    regions: tuple[str, ...] = Field(
        (), description="Regions whose applications we deliver to this peer."
    )
    items: tuple[str, ...] = Field(
        ("*",), description="Items the peer may submit here (as security.partners.*.items)."
    )
    rate_limit_per_minute: int = Field(6000, gt=0, description="Its sustained requests/minute.")
    rate_limit_burst: int = Field(600, gt=0, description="Its requests allowed at once.")

    @property
    def keys_url(self) -> str | None:
        """The JWKS URL to fetch, or None when the keys are pinned only."""
        if self.jwks_url:
            return self.jwks_url
        return None if self.keys else self.base_url.rstrip("/") + "/.well-known/tongban/keys"


class FederationSettings(_Section):
    """Peer Tongban gateways: each region running its own gateway, as equals."""

    region: str | None = Field(
        None,
        description="Our own region as our peers route to us; they take our status notices "
        "at PEER/v1/regions/REGION/callbacks. Required once a peer is configured.",
    )
    jwks_refetch_seconds: float = Field(
        10.0, gt=0, description="Least seconds between two JWKS fetches for an unknown kid."
    )
    witness_interval_seconds: float = Field(
        30.0, gt=0, description="Seconds between two fetches of each peer's audit checkpoint."
    )
    peers: dict[str, PeerSettings] = Field(
        default_factory=dict, description="Peer id -> peer ([federation.peers.ID])."
    )

    @model_validator(mode="after")
    def _complete(self) -> FederationSettings:
        if self.peers and not self.region:
            names = ", ".join(sorted(self.peers))
            raise ValueError(
                f"federation.region is missing on this side: peers {names} need it to "
                "send their status notices to /v1/regions/REGION/callbacks here"
            )
        routed: dict[str, str] = {}
        for peer_id, peer in self.peers.items():
            for region in peer.regions:
                if region in routed:
                    raise ValueError(
                        f"region {region!r} is routed to two peers: {routed[region]} and {peer_id}"
                    )
                if region == self.region:
                    raise ValueError(
                        f"peer {peer_id!r} is routed our own region {region!r} "
                        "(federation.region): a loop"
                    )
                routed[region] = peer_id
        return self

    def callback_url(self, peer_id: str) -> str:
        """Where peer `peer_id` takes our status notices (its callback for our region)."""
        base = self.peers[peer_id].base_url.rstrip("/")
        return f"{base}/v1/regions/{self.region}/callbacks"


class MaintenanceWindowSettings(_Section):
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


class RegionRelaySettings(_Section):
    """How the relay treats one region. Unset regions use these defaults."""

    concurrency: int = Field(16, ge=1, le=1000, description="Most deliveries in flight at once.")
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


class RelaySettings(_Section):
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


class OpsSettings(_Section):
    """The ops REST API (``/v1/ops/...``): deliveries and dead-letter replay."""

    token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token ops present (Authorization: Bearer ...). Unset: the ops API is off "
            "and only the CLI (`tongban deliveries`) can replay."
        ),
    )


class MetricsSettings(_Section):
    """``GET /metrics`` (Prometheus exposition)."""

    enabled: bool = Field(True, description="Serve GET /metrics (counts only, no personal data).")
    store_cache_seconds: float = Field(
        10.0,
        ge=0,
        le=300,
        description="How long the store-derived gauges (queue depth, audit lag, overdue) "
        "are reused between scrapes before the store is asked again.",
    )


class ConsoleSettings(_Section):
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


class Settings(_Section):
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
    federation: FederationSettings = FederationSettings()

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
            if region in self.adapters.regions
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

    @property
    def calendar_imported_directory(self) -> Path:
        """Where imported calendar years live (default: <data_dir>/calendar)."""
        return self.calendar.imported_directory or self.data_dir / "calendar"

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to an SQLite file in the data directory."""
        return self.store.url or f"sqlite:///{self.data_dir / 'tongban.db'}"


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the TOML file at `path` (optional), then apply the environment and `overrides`.

    Priority, highest first: `overrides` (nested dicts from the command line),
    ``TONGBAN_*`` variables in `environ` (default: the process environment), the
    file, the defaults. Raises `ConfigError` naming every invalid key.
    """
    values: dict[str, Any] = {}
    text = ""
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            values = tomllib.loads(text)
        except OSError as exc:
            raise ConfigError(source, [("(file)", exc.strerror or str(exc))]) from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(source, [("(syntax)", str(exc))]) from exc
    environ = os.environ if environ is None else environ
    env_values = environment_values(environ)
    if env_values:
        source += " + TONGBAN_* environment"
    origins = Origins(
        file=path,
        file_text=text,
        file_values=values,
        variables=_variable_names(environ),
        overrides=overrides,
    )
    values = _deep_merge(_deep_merge(values, env_values), overrides or {})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, origins)) from exc


def environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nest ``TONGBAN_SERVER__PORT=9000`` into ``{"server": {"port": "9000"}}``.

    Values stay strings; validation converts them ("9000" to 9000) and refuses junk.
    """
    nested: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        node = nested
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError("environment", [(name, "conflicts with a shorter variable")])
            node = child
        node[path[-1]] = value
    return nested


def _variable_names(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Each ``TONGBAN_*`` variable by the setting path it sets, as `environment_values` nests it."""
    return {
        tuple(name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)): name
        for name in environ
        if name.upper().startswith(ENV_PREFIX)
    }


def _describe(error: ValidationError, origins: Origins) -> list[tuple[str, str]]:
    """One ``(dotted key, message)`` per error, the message saying where the value was set."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        where = origins.of(item["loc"])
        problems.append((key, f"{item['msg']} ({where})" if where else item["msg"]))
    return problems


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
