"""Partners signing with SM2 (``alg="sm2-sm3"``, contracts/signatures-sm2.md) on a live server.

Reuses the loopback gateway of test_partner_auth; the signer is the reference
client's `RequestSigner` with an SM2 key.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
from test_partner_auth import BODY, SZ_KEY, MakeGateway, make_gateway, partner_config, post

from gateway.security import RequestSigner, verify_evidence
from gateway.security.signatures import sign
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey
from gateway.security.sm2_formats import N

__all__ = ["make_gateway"]  # the fixture, imported so pytest finds it here

SM2_KEY = SM2PrivateKey.generate()
OTHER_SM2_KEY = SM2PrivateKey.generate()


def sm2_partner(public_key: str | None = None) -> dict[str, Any]:
    key = {"keyid": "zjg-sm2", "public_key": public_key or SM2_KEY.public_key().to_pem().decode()}
    return {"partners": {"zhangjiagang": {"keys": [key], "items": ["SZ-*"]}}}


def sm2_signer(gateway: Any, key: SM2PrivateKey = SM2_KEY, keyid: str = "zjg-sm2") -> RequestSigner:
    return RequestSigner(key, keyid, clock=gateway.clock)


async def test_an_sm2_signed_request_is_accepted_and_its_evidence_reverifies(
    make_gateway: MakeGateway,
) -> None:
    gateway = await make_gateway(sm2_partner())
    status, document, _ = await post(gateway, signer=sm2_signer(gateway))
    assert status == 200, document
    assert document["partner"] == "zhangjiagang"
    (evidence,) = gateway.evidence
    assert evidence.algorithm == "sm2-sm3"
    assert 'alg="sm2-sm3"' in evidence.signature_input
    assert len(base64.b64decode(evidence.signature)) == 64  # r || s, not DER
    verify_evidence(evidence, SM2_KEY.public_key(), BODY)


async def test_the_key_may_be_configured_as_a_hex_point(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(sm2_partner(SM2_KEY.public_key().point.hex()))
    status, document, _ = await post(gateway, signer=sm2_signer(gateway))
    assert status == 200, document


async def test_sm2_verification_runs_off_the_event_loop(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    original = SM2PublicKey.verify

    def spy(self: SM2PublicKey, *args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread().name)
        original(self, *args, **kwargs)

    monkeypatch.setattr(SM2PublicKey, "verify", spy)
    gateway = await make_gateway(sm2_partner())
    status, _, _ = await post(gateway, signer=sm2_signer(gateway))
    assert status == 200
    assert threads
    assert threading.main_thread().name not in threads


def raw_signature(value: bytes) -> Any:
    def change(headers: dict[str, str]) -> None:
        label = headers["Signature"].split("=", 1)[0]
        headers["Signature"] = f"{label}=:{base64.b64encode(value).decode()}:"

    return change


def with_alg(alg: str) -> Any:
    def change(headers: dict[str, str]) -> None:
        headers["Signature-Input"] = headers["Signature-Input"].replace('"sm2-sm3"', f'"{alg}"')

    return change


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        pytest.param(raw_signature(b"\x01" * 64), "signature_invalid", id="random-r-s"),
        pytest.param(raw_signature(bytes(64)), "signature_invalid", id="zero"),
        pytest.param(raw_signature(N.to_bytes(32, "big") * 2), "signature_invalid", id="r=s=n"),
        pytest.param(
            raw_signature(b"\x30\x06\x02\x01\x01\x02\x01\x01"), "signature_invalid", id="der"
        ),
        pytest.param(raw_signature(b""), "signature_invalid", id="empty"),
        pytest.param(raw_signature(b"x" * 5000), "signature_invalid", id="huge"),
        pytest.param(with_alg("ed25519"), "algorithm_unsupported", id="alg-ed25519"),
        pytest.param(with_alg("sm2-sha256"), "algorithm_unsupported", id="alg-unknown"),
    ],
)
async def test_bad_sm2_signatures_are_refused_with_the_named_check(
    make_gateway: MakeGateway, tamper: Any, check: str
) -> None:
    gateway = await make_gateway(sm2_partner())
    status, document, _ = await post(gateway, signer=sm2_signer(gateway), tamper=tamper)
    assert status == 401, document
    assert document["check"] == check
    assert gateway.reached == []


async def test_another_sm2_key_or_a_changed_body_is_refused(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(sm2_partner())
    status, document, _ = await post(gateway, signer=sm2_signer(gateway, OTHER_SM2_KEY))
    assert (status, document["check"]) == (401, "signature_invalid")
    changed = BODY.replace(b"0001", b"0002")
    status, document, _ = await post(gateway, signer=sm2_signer(gateway), send_body=changed)
    assert (status, document["check"]) == (401, "digest_mismatch")
    assert gateway.reached == []


async def test_an_ed25519_signature_under_an_sm2_keyid_is_refused(
    make_gateway: MakeGateway,
) -> None:
    both = sm2_partner()
    both["partners"]["shenzhen"] = {"keys": [partner_config(SZ_KEY, "sz-2026")], "items": ["*"]}
    gateway = await make_gateway(both)
    ed_signer = RequestSigner(SZ_KEY, "zjg-sm2", clock=gateway.clock)
    status, document, _ = await post(gateway, signer=ed_signer)
    assert (status, document["check"]) == (401, "algorithm_unsupported")
    status, _, _ = await post(gateway)  # the Ed25519 partner beside it still works
    assert status == 200


def test_sign_labels_the_algorithm_by_the_key() -> None:
    from gateway.security.signatures import HttpMessage

    message = HttpMessage.of("GET", "https://gw.example/v1/x", [])
    signed = sign(message, SM2_KEY, keyid="k", components=["@method"], created=1)
    assert 'alg="sm2-sm3"' in signed.signature_input
    assert json.dumps(signed.as_headers())
