"""``GET /.well-known/tongban/keys``: the gateway's public keys as an RFC 7517 JWK Set.

Lists the active key and every rotated-out key still in its grace period, so a
partner or peer gateway can verify our signatures and receipts offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.app_keys import GATEWAY_KEYS
from gateway.errors import KeyStoreError
from gateway.http.responses import json_response
from gateway.security.keys import KeyRing
from gateway.security.outbound import RequestSigner
from gateway.security.receipts import sign_receipt
from gateway.security.sm2 import SM2PrivateKey
from gateway.security.sm2_keys import SM2KeyRing

PATH = "/.well-known/tongban/keys"
MEDIA_TYPE = "application/jwk-set+json"


@dataclass
class GatewayKeys:
    """The key ring as loaded at start-up, and the active private key if it was unlocked.

    One object for the process's life: a reload (SIGHUP, `gateway.security.reload`)
    `adopt`s the re-read ring in place, so every holder of it signs with the new key.

    `ring` is None until ``tongban keys generate`` has run; `private_key` is None
    when no passphrase is configured (the gateway then publishes but cannot sign).
    `sm2_ring` and `sm2_private_key` are the same for the SM2 key (``--alg sm2``),
    used where a region requires 国密; published beside the Ed25519 keys.
    """

    ring: KeyRing | None
    grace: timedelta
    private_key: Ed25519PrivateKey | None = None
    sm2_ring: SM2KeyRing | None = None
    sm2_private_key: SM2PrivateKey | None = None

    def adopt(self, other: GatewayKeys) -> None:
        """Take `other`'s keys (a re-read of the ring), in place."""
        self.ring, self.grace, self.private_key = other.ring, other.grace, other.private_key
        self.sm2_ring, self.sm2_private_key = other.sm2_ring, other.sm2_private_key

    def jwks(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        keys = self.ring.jwks(now, self.grace)["keys"] if self.ring is not None else []
        if self.sm2_ring is not None:
            keys += [key.jwk() for key in self.sm2_ring.published(now, self.grace)]
        return {"keys": keys}

    def _signing_key(self) -> tuple[Ed25519PrivateKey, str]:
        if self.ring is None or self.private_key is None:
            raise KeyStoreError(
                "the gateway cannot sign: no key ring, or no key passphrase configured"
            )
        return self.private_key, self.ring.active_kid

    def sign_receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        """Sign `receipt` with the active key (see `gateway.security.receipts`)."""
        key, kid = self._signing_key()
        return sign_receipt(receipt, key, kid)

    def request_signer(self, *, expires_in: int | None = None) -> RequestSigner:
        """A `RequestSigner` for outbound calls with the active key."""
        key, kid = self._signing_key()
        return RequestSigner(key, kid, expires_in=expires_in)


routes = web.RouteTableDef()


@routes.get(PATH)
async def get_keys(request: web.Request) -> web.Response:
    """The JWK Set; cacheable for five minutes (a rotation shows up within that)."""
    return json_response(
        request.app[GATEWAY_KEYS].jwks(),
        content_type=MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=300"},
    )
