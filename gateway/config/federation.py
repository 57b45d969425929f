"""Settings of federation: peer Tongban gateways, each region running its own."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.config.section import Section
from gateway.config.security import PartnerKeySettings


class PeerGatewaySettings(Section):
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


class FederationSettings(Section):
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
    peers: dict[str, PeerGatewaySettings] = Field(
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
