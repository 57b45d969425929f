"""Zhangjiagang 国密 API (MODELLED, see contracts/regions/zhangjiagang.md).

Every message, both ways, is a JSON wrapper whose ``data`` is the business JSON
encrypted with SM4-CBC (PKCS#7 padding, random 16-byte IV) and whose integrity is
``mac = hex(HMAC-SM3(macKey, appId|timestamp|nonce|iv|data))``. Error answers carry
``retCode`` and ``retMsg`` in the clear and no ``data``. Shared by adapter and sandbox.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.applications.status import Status
from gateway.jsonio import load_json

OK = "000000"
MAX_SKEW_SECONDS = 300
PATHS = {
    "submission": "/api/v2/case/submit",
    "supplement": "/api/v2/case/supplement",
    "withdrawal": "/api/v2/case/withdraw",
    "rating": "/api/v2/case/rate",
}
HEARTBEAT_PATH = "/api/v2/heartbeat"

ERRORS = {
    "100001": "MAC 校验失败",
    "100002": "报文解密失败",
    "100003": "时间戳超出允许范围或 nonce 重复",
    "200001": "参数校验失败",
    "200004": "办件不存在",
    "200005": "办件状态不允许此操作",
    "300001": "系统繁忙",
    "300002": "系统维护中",
}
TRANSIENT = frozenset({"300001", "300002"})

STATUS_CODES = {
    "SL": Status.ACCEPTED,
    "BYSL": Status.REJECTED,
    "BZ": Status.SUPPLEMENT_REQUIRED,
    "BL": Status.IN_REVIEW,
    "BJTG": Status.APPROVED,
    "BJBTG": Status.DENIED,
    "CH": Status.WITHDRAWN,
}
CODE_OF_STATUS = {status: code for code, status in STATUS_CODES.items()}


class ProtocolError(ValueError):
    """A wrapper failed its MAC (``code`` 100001), decryption (100002) or freshness (100003)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(ERRORS[code])


def _key(hex_key: str) -> bytes:
    key = bytes.fromhex(hex_key)
    if len(key) != 16:
        raise ValueError("SM4 keys are 16 bytes (32 hex digits)")
    return key


def mac(mac_key: str, wrapper: Mapping[str, Any]) -> str:
    fields = (wrapper.get(k, "") for k in ("appId", "timestamp", "nonce", "iv", "data"))
    signer = crypto_hmac.HMAC(bytes.fromhex(mac_key), hashes.SM3())
    signer.update("|".join(str(f) for f in fields).encode())
    return signer.finalize().hex()


def seal(app_id: str, sm4_key: str, mac_key: str, payload: Any) -> dict[str, str]:
    """Encrypt `payload` (JSON) into a MAC'd wrapper."""
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(payload, ensure_ascii=False, default=str).encode())
    plain += padder.finalize()
    encryptor = Cipher(algorithms.SM4(_key(sm4_key)), modes.CBC(iv)).encryptor()
    cipher = encryptor.update(plain) + encryptor.finalize()
    wrapper = {
        "appId": app_id,
        "timestamp": str(int(time.time())),
        "nonce": secrets.token_hex(16),
        "encType": "SM4/CBC/PKCS7",
        "macType": "HMAC-SM3",
        "iv": base64.b64encode(iv).decode(),
        "data": base64.b64encode(cipher).decode(),
    }
    wrapper["mac"] = mac(mac_key, wrapper)
    return wrapper


def open_sealed(
    app_id: str, sm4_key: str, mac_key: str, wrapper: Mapping[str, Any], *, check_time: bool = True
) -> Any:
    """Verify the MAC and freshness of `wrapper`, then decrypt its ``data``.

    Raises `ProtocolError` with the region's code for each failure.
    """
    given = str(wrapper.get("mac", ""))
    if wrapper.get("appId") != app_id or not hmac.compare_digest(
        given.lower(), mac(mac_key, wrapper)
    ):
        raise ProtocolError("100001")
    if check_time:
        try:
            skew = abs(time.time() - int(str(wrapper.get("timestamp"))))
        except ValueError as exc:
            raise ProtocolError("100003") from exc
        if skew > MAX_SKEW_SECONDS:
            raise ProtocolError("100003")
    try:
        iv = base64.b64decode(str(wrapper["iv"]), validate=True)
        cipher = base64.b64decode(str(wrapper["data"]), validate=True)
        decryptor = Cipher(algorithms.SM4(_key(sm4_key)), modes.CBC(iv)).decryptor()
        padded = decryptor.update(cipher) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        return load_json(plain, max_bytes=len(plain))
    except (KeyError, ValueError, binascii.Error, InvalidSignature) as exc:
        raise ProtocolError("100002") from exc
