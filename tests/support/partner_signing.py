"""Test partners and a test client that signs every request as one of them.

The application routes take only RFC 9421 signed partner requests, so tests reach
them the way a partner does: `SignedClient` wraps aiohttp's `TestClient` and signs
each request with the gateway's own `RequestSigner` (the reference client's
signer), over the exact URL and body bytes it sends. Nothing is bypassed: every
test request goes through the real authentication.
"""

from __future__ import annotations

import json as jsonlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.security import RequestSigner, thumbprint
from gateway.security.keys import b64url, raw_public

Client = TestClient[web.Request, web.Application]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class TestPartner:
    """A partner identity for tests: id, Ed25519 key, and the items it may submit."""

    __test__ = False  # not a test class, despite the name

    id: str
    items: tuple[str, ...] = ("*",)
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def keyid(self) -> str:
        return thumbprint(self.key.public_key())

    def setting(self) -> dict[str, Any]:
        """Its ``security.partners.<id>`` settings (generous rate limit: tests burst)."""
        public_key = b64url(raw_public(self.key.public_key()))
        return {
            "name": f"Test partner {self.id}",
            "keys": [{"keyid": self.keyid, "public_key": public_key}],
            "items": list(self.items),
            "rate_limit_per_minute": 100_000,
            "rate_limit_burst": 10_000,
        }


PARTNER = TestPartner("test-partner")
"""The partner application tests sign as: may submit every item."""
OTHER_PARTNER = TestPartner("other-partner")
"""Another partner with every item: must never see `PARTNER`'s applications."""
NARROW_PARTNER = TestPartner("narrow-partner", items=("TEST-DG-*",))
"""A partner allowed only the Dongguan test items."""


def partners_setting(*partners: TestPartner) -> dict[str, Any]:
    """``security.partners`` for these partners."""
    return {partner.id: partner.setting() for partner in partners}


class SignedClient:
    """A `TestClient` whose requests are signed as `partner` (RFC 9421 + RFC 9530)."""

    def __init__(self, client: Client, partner: TestPartner) -> None:
        self.client = client
        self.partner = partner
        self._signer = RequestSigner(partner.key, partner.keyid)

    @property
    def app(self) -> web.Application:
        return self.client.app

    def as_partner(self, partner: TestPartner) -> SignedClient:
        """The same server, signing as another partner."""
        return SignedClient(self.client, partner)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: bool = True,
    ) -> ClientResponse:
        """Send `method path` with a JSON or raw body, signed; the URL and bytes as signed.

        A POST gets a fresh ``Idempotency-Key`` (as a partner sends on every
        state-changing route) unless `headers` has one or `idempotency_key` is False.
        """
        method = method.upper()
        sent = dict(headers or {})
        if method == "POST" and idempotency_key:
            sent.setdefault("Idempotency-Key", str(uuid.uuid4()))
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        else:
            body = data or b""
        if method in _BODY_METHODS:
            sent.setdefault("Content-Type", "application/octet-stream")
        url = str(self.client.make_url(path))
        sent.update(self._signer(method, url, sent, body))
        return await self.client.request(method, path, headers=sent, data=body or None)

    async def close(self) -> None:
        await self.client.close()

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("POST", path, **kwargs)


def multipart(field_name: str, filename: str, media_type: str, data: bytes) -> tuple[bytes, str]:
    """A one-file ``multipart/form-data`` body and its Content-Type, as bytes to sign."""
    boundary = "tongban-test-boundary-7f3a"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {media_type}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
