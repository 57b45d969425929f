"""[federation.peers.NAME]: one entry makes a peer a destination and a partner;
mistakes are named with the side and the key to fix."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import load_settings
from gateway.errors import ConfigError

PEER = {"base_url": "http://127.0.0.1:9002", "regions": ["shenzhen"]}


def settings(**federation: Any) -> Any:
    overrides = {"adapters": {"regions": ["dongguan"]}, "federation": federation}
    return load_settings(environ={}, overrides=overrides)


def test_a_peer_is_also_a_partner_with_its_callback_for_our_region() -> None:
    loaded = settings(region="dongguan", peers={"shenzhen": PEER})
    partner = loaded.security.partners["shenzhen"]
    assert partner.callback_url == "http://127.0.0.1:9002/v1/regions/dongguan/callbacks"
    assert partner.items == ("*",)
    peer = loaded.federation.peers["shenzhen"]
    assert peer.keys_url == "http://127.0.0.1:9002/.well-known/tongban/keys"


def test_settings_validated_again_stay_the_same() -> None:
    loaded = settings(region="dongguan", peers={"shenzhen": PEER})
    again = type(loaded).model_validate(loaded)
    assert again.security.partners.keys() == loaded.security.partners.keys()


@pytest.mark.parametrize(
    ("federation", "adapters", "partners", "words"),
    [
        ({"peers": {"shenzhen": PEER}}, ["dongguan"], {}, "federation.region is missing"),
        (
            {"region": "dongguan", "peers": {"shenzhen": PEER}},
            ["dongguan", "shenzhen"],
            {},
            "also in adapters.regions",
        ),
        (
            {"region": "dongguan", "peers": {"a": PEER, "b": PEER}},
            ["dongguan"],
            {},
            "routed to two peers",
        ),
        (
            {"region": "shenzhen", "peers": {"shenzhen": PEER}},
            ["dongguan"],
            {},
            "a loop",
        ),
        (
            {"region": "dongguan", "peers": {"shenzhen": PEER}},
            ["dongguan"],
            {"shenzhen": {"keys": [{"public_key": "A" * 43}]}},
            "also configured under security.partners",
        ),
    ],
)
def test_mistakes_name_the_side_and_the_key(
    federation: dict[str, Any], adapters: list[str], partners: dict[str, Any], words: str
) -> None:
    overrides = {
        "adapters": {"regions": adapters},
        "federation": federation,
        "security": {"partners": partners},
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, overrides=overrides)
    assert words in str(caught.value)
