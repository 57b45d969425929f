"""RFC 9530 ``Content-Digest``: make it for a body and check a received one.

The field is a Structured Field Dictionary of algorithm to byte sequence, e.g.
``sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:``. We send sha-256; we
accept sha-256 and sha-512 and require every one of those present to match, and
ignore algorithms we do not know (RFC 9530 §2) as long as one we know is there.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import http_sf

from gateway.errors import SignatureError

HEADER = "Content-Digest"

_ALGORITHMS: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda body: hashlib.sha256(body).digest(),
    "sha-512": lambda body: hashlib.sha512(body).digest(),
}


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` value for `body`, with sha-256."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode('ascii')}:"


def verify_content_digest(header: str | None, body: bytes) -> str:
    """Check a received ``Content-Digest`` value against `body`; return the sha-256 hex.

    Raises `SignatureError` with check ``digest_missing``, ``digest_malformed``,
    ``digest_unsupported`` (no sha-256 or sha-512) or ``digest_mismatch``.
    """
    if header is None or not header.strip():
        raise SignatureError("digest_missing", "Content-Digest header is required with a body")
    parsed = _parsed(header)
    checked = 0
    for algorithm, member in parsed.items():
        compute = _ALGORITHMS.get(algorithm)
        if compute is None:
            continue
        value = member[0] if isinstance(member, tuple) else None
        if not isinstance(value, bytes):
            raise SignatureError("digest_malformed", f"Content-Digest {algorithm} is not bytes")
        if value != compute(body):
            raise SignatureError(
                "digest_mismatch", f"Content-Digest {algorithm} does not match the body"
            )
        checked += 1
    if not checked:
        raise SignatureError(
            "digest_unsupported", "Content-Digest needs sha-256 (or sha-512); none was given"
        )
    return hashlib.sha256(body).hexdigest()


# One algorithm and its digest in canonical padded base64, as every client we know
# sends it: read with a regular expression. Anything else is http_sf's to parse, so
# this accepts a subset of what it accepts, read the same way (a test compares them).
_SIMPLE = re.compile(
    r"(sha-256|sha-512)=:((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?):"
)


def _parsed(header: str) -> dict[str, Any]:
    """The ``Content-Digest`` dictionary; `SignatureError` ``digest_malformed`` if none."""
    simple = _SIMPLE.fullmatch(header)
    if simple is not None:
        return {simple.group(1): (base64.b64decode(simple.group(2), validate=True), {})}
    try:
        parsed = http_sf.parse(header.encode("ascii"), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError) as exc:
        raise SignatureError(
            "digest_malformed", "Content-Digest is not a structured dictionary"
        ) from exc
    assert isinstance(parsed, dict)  # noqa: S101 - tltype="dictionary" returns a dict
    return parsed
