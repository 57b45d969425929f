"""Signing our own outgoing requests (peer gateways, partner webhooks), RFC 9421 style.

`RequestSigner` is a plain callable, ``(method, url, headers, body) -> headers to
add``, so any HTTP client (aiohttp, httpx) or adapter can use it without knowing
RFC 9421. It signs exactly what `gateway.security.auth` demands of partners, so a
peer gateway running this code accepts what we send: ``@method``, ``@target-uri``,
and with a body ``content-type`` and ``content-digest``; ``created``, ``keyid``,
``alg="ed25519"`` and a fresh random ``nonce``; plus each header named in
`cover_headers` that the request has (``Idempotency-Key`` by default, so a replayed
body cannot be re-labelled as a new submission).

The caller must send the URL and the body bytes exactly as passed (no re-encoding
of the URL, no re-serialising of the JSON), or the signature will not verify.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.security.digest import content_digest
from gateway.security.signatures import DEFAULT_LABEL, HttpMessage, sign
from gateway.security.sm2 import SM2PrivateKey

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestSigner:
    """Signs requests with one Ed25519 or SM2 key (`keyid` names it to the verifier).

    Implements the adapter contract's `adapters.base.SignRequest`.

    `expires_in` (seconds) adds an ``expires`` parameter; `clock` returns Unix
    seconds and is injectable for tests.
    """

    def __init__(
        self,
        private_key: Ed25519PrivateKey | SM2PrivateKey,
        keyid: str,
        *,
        expires_in: int | None = None,
        label: str = DEFAULT_LABEL,
        cover_headers: Sequence[str] = ("idempotency-key",),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = private_key
        self.keyid = keyid
        self._expires_in = expires_in
        self._label = label
        self._cover_headers = tuple(name.lower() for name in cover_headers)
        self._clock = clock

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """Return ``Content-Digest`` (with a body), ``Signature-Input`` and ``Signature``.

        Raises `ValueError` for a body without ``Content-Type`` in `headers`.
        """
        method = method.upper()
        added: dict[str, str] = {}
        components = ["@method", "@target-uri"]
        if body or method in _BODY_METHODS:
            if not any(name.lower() == "content-type" for name in headers):
                raise ValueError("a signed request with a body needs a Content-Type header")
            added["Content-Digest"] = content_digest(body)
            components += ["content-type", "content-digest"]
        present = {name.lower() for name in headers}
        components += [name for name in self._cover_headers if name in present]
        message = HttpMessage.of(method, url, [*headers.items(), *added.items()])
        created = int(self._clock())
        signed = sign(
            message,
            self._key,
            keyid=self.keyid,
            components=components,
            created=created,
            expires=created + self._expires_in if self._expires_in else None,
            nonce=secrets.token_urlsafe(16),
            label=self._label,
        )
        return {**added, **signed.as_headers()}
