"""Peers' keys through their JWKS URL: fetched into the partner registry, fetched
again for an unknown kid, at most once per interval per peer."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.base import HttpResponse
from adapters.testing import MockHttpClient
from gateway.config import FederationSettings
from gateway.federation import PeerKeys
from gateway.security.keys import public_jwk
from gateway.security.partners import ItemRules, Partner, PartnerRegistry

JWKS_URL = "http://peer.test/.well-known/tongban/keys"


class Peer:
    """A peer publishing its current keys."""

    def __init__(self) -> None:
        self.keys = [("kid-1", Ed25519PrivateKey.generate())]
        self.client = MockHttpClient(self.answer)

    def answer(self, request: object) -> HttpResponse:
        document = {
            "keys": [
                {**public_jwk(key.public_key()), "kid": kid, "use": "sig"} for kid, key in self.keys
            ]
        }
        return HttpResponse(200, {}, json.dumps(document).encode())


def world(clock: list[float]) -> tuple[Peer, PartnerRegistry, PeerKeys]:
    peer = Peer()
    settings = FederationSettings.model_validate(
        {
            "region": "dongguan",
            "jwks_refetch_seconds": 10,
            "peers": {"shenzhen": {"base_url": "http://peer.test", "jwks_url": JWKS_URL}},
        }
    )
    registry = PartnerRegistry(
        {"shenzhen": Partner("shenzhen", "深圳", (), ItemRules(all_items=True), None, 60, 10)}
    )
    return peer, registry, PeerKeys(settings, registry, peer.client, clock=lambda: clock[0])


async def test_keys_are_fetched_and_a_rotated_key_is_found_at_its_first_use() -> None:
    clock = [0.0]
    peer, registry, keys = world(clock)
    await keys.fetch_all()
    found = registry.by_keyid("kid-1")
    assert found is not None
    assert found[0].id == "shenzhen"
    peer.keys.append(("kid-2", Ed25519PrivateKey.generate()))
    clock[0] = 11.0
    await keys.find("kid-2")
    assert registry.by_keyid("kid-2") is not None
    assert keys.fetches == 2


async def test_unknown_kids_cost_at_most_one_fetch_per_interval() -> None:
    clock = [0.0]
    _, registry, keys = world(clock)
    await keys.fetch_all()
    for attempt in range(20):
        await keys.find(f"made-up-{attempt}")
    assert keys.fetches == 1
    clock[0] = 10.0
    await keys.find("made-up-again")
    assert keys.fetches == 2
    assert registry.by_keyid("made-up-again") is None
