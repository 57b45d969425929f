"""Shenzhen open platform (MODELLED, see contracts/regions/shenzhen.md): signing and codes.

Every request and every pushed result carries ``appId``, ``timestamp`` (ms),
``nonce``, ``signType=HMAC-SHA256`` and ``sign`` as query parameters.
``sign = base64(HMAC-SHA256(appSecret, canonical))`` where ``canonical`` joins the
parameters except ``sign`` plus ``bodyDigest`` (hex SHA-256 of the raw body), sorted
by name, as ``k=v`` with ``&``. Shared by the adapter and the sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

from gateway.envelope import Status

SIGN_TYPE = "HMAC-SHA256"
MAX_SKEW_MS = 300_000
OK = "0000"

PATHS = {
    "submission": "/open/api/case/submit",
    "supplement": "/open/api/case/supplement",
    "withdrawal": "/open/api/case/withdraw",
    "rating": "/open/api/case/rate",
}
PING_PATH = "/open/api/ping"

# Business codes: transient ones may succeed on a retry (with a fresh nonce and sign).
ERRORS = {
    "1001": "签名校验失败",
    "1002": "时间戳超出允许范围",
    "1003": "nonce 重复",
    "2001": "参数校验失败",
    "2004": "办件不存在",
    "2005": "办件状态不允许此操作",
    "3001": "系统繁忙",
    "3002": "请求过于频繁",
    "9999": "系统异常",
}
TRANSIENT = frozenset({"1003", "3001", "3002", "9999"})
# Permanent refusals in the words a window clerk sees for a dead letter.
REJECTION_CATEGORIES = {"1001": "signature", "1002": "signature", "2001": "materials"}

# Native status codes (statusCode) pushed in results, onto our statuses.
STATUS_CODES = {
    "03": Status.ACCEPTED,
    "04": Status.REJECTED,
    "06": Status.SUPPLEMENT_REQUIRED,
    "08": Status.IN_REVIEW,
    "11": Status.APPROVED,
    "12": Status.DENIED,
    "13": Status.WITHDRAWN,
}
CODE_OF_STATUS = {status: code for code, status in STATUS_CODES.items()}


def canonical(params: Mapping[str, str], body: bytes) -> str:
    """The signed string: params without ``sign`` plus ``bodyDigest``, sorted, ``k=v&...``."""
    items = {k: v for k, v in params.items() if k != "sign"}
    items["bodyDigest"] = hashlib.sha256(body).hexdigest()
    return "&".join(f"{key}={items[key]}" for key in sorted(items))


def sign(secret: str, params: Mapping[str, str], body: bytes) -> str:
    mac = hmac.new(secret.encode(), canonical(params, body).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signed_params(
    app_id: str, secret: str, body: bytes, *, now_ms: int | None = None
) -> dict[str, str]:
    """The query parameters of one signed request or push."""
    params = {
        "appId": app_id,
        "timestamp": str(now_ms if now_ms is not None else int(time.time() * 1000)),
        "nonce": secrets.token_hex(16),
        "signType": SIGN_TYPE,
    }
    params["sign"] = sign(secret, params, body)
    return params


def verify(
    app_id: str, secret: str, params: Mapping[str, str], body: bytes, *, now_ms: int | None = None
) -> str | None:
    """None if genuine, else the error code (1001 bad sign or appId, 1002 stale)."""
    given = params.get("sign", "")
    if params.get("appId") != app_id or params.get("signType") != SIGN_TYPE:
        return "1001"
    if not hmac.compare_digest(given, sign(secret, params, body)):
        return "1001"
    try:
        timestamp = int(params.get("timestamp", ""))
    except ValueError:
        return "1002"
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    if abs(now - timestamp) > MAX_SKEW_MS:
        return "1002"
    return None
