"""The reference partner client: how a partner signs its calls to the gateway.

This is the working example partners copy. A submission's files are uploaded
first (`upload_attachment`, one signed raw-body POST each) and referenced in the
application by their SHA-256 digests. It sends the JSON body bytes exactly
as read (never re-serialised) and the URL exactly as signed, with
``Content-Type: application/json``, an ``Idempotency-Key``, and the RFC 9421
signature made by `RequestSigner` over ``@method``, ``@target-uri``,
``content-type``, ``content-digest`` and ``idempotency-key``, with ``created``,
``keyid``, ``alg="ed25519"`` and a single-use ``nonce``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from yarl import URL

from gateway.errors import InvalidKey, KeyStoreError
from gateway.jsonio import load_json
from gateway.security.outbound import RequestSigner
from gateway.security.sm2 import SM2PrivateKey

APPLICATIONS_PATH = "/v1/applications"
ATTACHMENTS_PATH = "/v1/attachments"
_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True)
class Reply:
    """The gateway's answer: status, headers and the body (parsed JSON if it is JSON)."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400


def load_partner_key(
    path: Path, passphrase: str | None = None
) -> Ed25519PrivateKey | SM2PrivateKey:
    """Read the partner's Ed25519 or SM2 private key (PKCS#8 PEM, optionally encrypted).

    Raises `KeyStoreError` if the file is unreadable, encrypted without the right
    passphrase, or neither an Ed25519 nor an SM2 key.
    """
    secret = passphrase.encode("utf-8") if passphrase else None
    try:
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, password=secret)
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from exc
    except UnsupportedAlgorithm:
        try:  # cryptography has no SM2
            return SM2PrivateKey.from_pem(data, secret)
        except InvalidKey as exc:
            raise KeyStoreError(f"cannot load {path}: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot load {path}: wrong passphrase or not a PEM key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} is not an Ed25519 or SM2 private key")
    return key


async def submit(
    base_url: str,
    signer: RequestSigner,
    body: bytes,
    *,
    idempotency_key: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> Reply:
    """POST a JSON application `body` to ``{base_url}/v1/applications``, signed."""
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key or str(uuid.uuid4()),
    }
    return await _send(
        "POST", base_url.rstrip("/") + APPLICATIONS_PATH, headers, body, signer, session
    )


async def upload_attachment(
    base_url: str,
    signer: RequestSigner,
    content: bytes,
    media_type: str,
    *,
    idempotency_key: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> Reply:
    """POST one file's bytes to ``{base_url}/v1/attachments``, signed; the reply holds
    its SHA-256 ``digest``, which applications list under their materials."""
    headers = {"Content-Type": media_type, "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    url = base_url.rstrip("/") + ATTACHMENTS_PATH
    return await _send("POST", url, headers, content, signer, session)


async def get_application(
    base_url: str,
    signer: RequestSigner,
    application_id: str,
    *,
    session: aiohttp.ClientSession | None = None,
) -> Reply:
    """GET ``{base_url}/v1/applications/{id}``, signed."""
    url = f"{base_url.rstrip('/')}{APPLICATIONS_PATH}/{quote(application_id, safe='')}"
    return await _send("GET", url, {}, b"", signer, session)


async def _send(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    signer: RequestSigner,
    session: aiohttp.ClientSession | None,
) -> Reply:
    headers = {**headers, **signer(method, url, headers, body)}
    # encoded=True: send the URL byte for byte as signed, no re-quoting by yarl.
    target = URL(url, encoded=True)
    if session is None:
        async with aiohttp.ClientSession(timeout=_TIMEOUT) as own:
            return await _request(own, method, target, headers, body)
    return await _request(session, method, target, headers, body)


async def _request(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    headers: dict[str, str],
    body: bytes,
) -> Reply:
    async with session.request(method, url, headers=headers, data=body or None) as response:
        raw = await response.read()
        try:
            parsed: Any = load_json(raw, max_bytes=len(raw)) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return Reply(status=response.status, headers=dict(response.headers), body=parsed)
