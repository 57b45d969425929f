"""How fast the gateway signs and verifies partner requests (RFC 9421, Ed25519).

Prints operations per second for: signing a request (`RequestSigner`), the full
verification a partner request goes through before the nonce and rate limit
(`PartnerAuthenticator.verify`: parse, policy, key lookup, Ed25519, digest), and
signing a receipt (JCS + detached JWS). Run: ``.venv/bin/python benchmarks/signatures.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import SecuritySettings
from gateway.security import PartnerAuthenticator, PartnerRegistry, RequestSigner, sign_receipt
from gateway.security.keys import b64url, raw_public
from gateway.security.ratelimit import RateLimiter
from gateway.security.signatures import HttpMessage

N = 5000
URL = "https://gw.example.gov.cn/v1/applications"
BODY = json.dumps(
    {"item_code": "SZ-0001", "applicant": {"name": "张三"}, "pad": "x" * 2000}
).encode()


def rate(label: str, function: Callable[[], object], n: int = N) -> None:
    started = time.perf_counter()
    for _ in range(n):
        function()
    elapsed = time.perf_counter() - started
    print(f"{label:<40} {n / elapsed:>10,.0f} /s   {elapsed / n * 1e6:>8.1f} µs each")


def main() -> None:
    key = Ed25519PrivateKey.generate()
    settings = SecuritySettings.model_validate(
        {
            "partners": {
                "p": {
                    "keys": [{"keyid": "k", "public_key": b64url(raw_public(key.public_key()))}],
                    "items": ["*"],
                }
            }
        }
    )
    # verify() never touches the nonce store (that is authenticate()'s last step).
    authenticator = PartnerAuthenticator(
        PartnerRegistry.from_settings(settings),
        None,
        RateLimiter(),  # type: ignore[arg-type]
    )
    signer = RequestSigner(key, "k")
    headers = {"Content-Type": "application/json"}
    rate("sign request (2 KiB body)", lambda: signer("POST", URL, headers, BODY))
    signed = {**headers, **signer("POST", URL, headers, BODY)}
    message = HttpMessage.of("POST", URL, signed.items())
    rate("verify request (checks 1-8)", lambda: authenticator.verify(message, BODY, time.time()))
    receipt = {"application_id": "a" * 32, "received_at": "2026-03-01T08:00:00+08:00"}
    rate("sign receipt (JCS + JWS)", lambda: sign_receipt(receipt, key, "kid"))


if __name__ == "__main__":
    main()
