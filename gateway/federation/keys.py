"""Peer gateways' public keys, found through their JWKS URLs and kept current.

Each peer is a partner here (`gateway.config.Settings` makes it one); its keys are
fetched from its JWKS URL at start-up and put into the `PartnerRegistry`. When a
signature names a key id no partner has, every peer whose keys were last fetched
more than ``federation.jwks_refetch_seconds`` ago is fetched again: a peer that
rotated its key is accepted at its first request, without a restart, while a
stream of made-up key ids costs at most one fetch per peer per interval.
Pinned keys (``keys`` with no ``jwks_url``) are never fetched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from adapters.base import HttpClient, json_object
from gateway.config import FederationSettings, PeerGatewaySettings
from gateway.errors import AdapterError
from gateway.security.partners import PartnerKey, PartnerRegistry, load_partner_public_key

log = structlog.get_logger(__name__)


def keys_of_jwks(document: Mapping[str, Any]) -> tuple[PartnerKey, ...]:
    """The Ed25519 signing keys of an RFC 7517 JWK Set (others are skipped)."""
    found = []
    for jwk in document.get("keys") or ():
        if not isinstance(jwk, dict):
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or jwk.get("use", "sig") != "sig":
            continue
        kid, x = jwk.get("kid"), jwk.get("x")
        if not isinstance(kid, str) or not isinstance(x, str):
            continue
        try:
            found.append(PartnerKey(keyid=kid, public_key=load_partner_public_key(x)))
        except ValueError:
            log.warning("federation.jwks_key_unreadable", kid=kid)
    return tuple(found)


class PeerKeys:
    """Fetches peers' JWK Sets into the partner registry, rate-limited per peer."""

    def __init__(
        self,
        settings: FederationSettings,
        registry: PartnerRegistry,
        http: HttpClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._peers: dict[str, PeerGatewaySettings] = {
            peer_id: peer for peer_id, peer in settings.peers.items() if peer.keys_url
        }
        self._registry = registry
        self._http = http
        self._interval = settings.jwks_refetch_seconds
        self._clock = clock
        self._fetched_at: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many JWKS fetches were made (for tests and metrics)."""

    async def fetch_all(self) -> None:
        """Fetch every peer's keys (at start-up); a peer that does not answer is logged."""
        for peer_id in self._peers:
            await self.fetch(peer_id)

    async def fetch(self, peer_id: str) -> bool:
        """Fetch `peer_id`'s JWK Set into the registry; False when it could not be read."""
        url = self._peers[peer_id].keys_url
        assert url is not None  # noqa: S101 - only peers with a URL are kept
        self._fetched_at[peer_id] = self._clock()
        self.fetches += 1
        try:
            response = await self._http.request("GET", url, region=f"peer:{peer_id}")
            if response.status != 200:
                raise AdapterError(f"peer:{peer_id}", f"HTTP {response.status}")
            keys = keys_of_jwks(json_object(f"peer:{peer_id}", response.body))
        except AdapterError as exc:
            log.warning("federation.jwks_unavailable", peer=peer_id, url=url, error=str(exc))
            return False
        self._registry.set_keys(peer_id, keys)
        log.info("federation.jwks_fetched", peer=peer_id, kids=[key.keyid for key in keys])
        return True

    async def find(self, keyid: str) -> None:
        """A signature named `keyid`, which no partner has: fetch the peers due again."""
        async with self._lock:  # concurrent unknown kids share one round of fetches
            if self._registry.by_keyid(keyid) is not None:
                return
            now = self._clock()
            for peer_id in self._peers:
                last = self._fetched_at.get(peer_id)
                if last is None or now - last >= self._interval:
                    await self.fetch(peer_id)
                    if self._registry.by_keyid(keyid) is not None:
                        log.info("federation.peer_key_found", peer=peer_id, keyid=keyid)
                        return
