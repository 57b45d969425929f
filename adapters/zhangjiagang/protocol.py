"""Zhangjiagang 国密 API (MODELLED, see contracts/regions/zhangjiagang.md).

Every message, both ways, is a JSON wrapper whose ``data`` is the business JSON
encrypted with SM4-CBC (PKCS#7 padding, random 16-byte IV) under a fresh 16-byte
session key, and which the sender signs with its SM2 key:

- a request carries its session key in ``encKey``: an SM2 envelope (GM/T 0009 DER,
  base64) to the region's public key; the region's answer is sealed under the same
  session key and carries no ``encKey``, so it can only answer this request;
- a pushed result carries a new session key enveloped to the gateway's SM2 key;
- ``sign`` is base64 of the DER SM2 signature (SM3 with Z_A, default ID
  ``1234567812345678``) over ``appId|keyId|timestamp|nonce|encKey|iv|data``;
  ``keyId`` is the signer's key id (RFC 7638 thumbprint of its SM2 JWK).

Error answers carry ``retCode`` and ``retMsg`` in the clear and no ``data``.
Shared by adapter and sandbox.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.envelope import Status
from gateway.errors import DecryptionError, InvalidSignature
from gateway.jsonio import load_json
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey

OK = "000000"
MAX_SKEW_SECONDS = 300
ENC_TYPE = "SM4/CBC/PKCS7"
SIGN_TYPE = "SM2/SM3"
SIGNED_FIELDS = ("appId", "keyId", "timestamp", "nonce", "encKey", "iv", "data")
SESSION_KEY_BYTES = 16
PATHS = {
    "submission": "/api/v2/case/submit",
    "supplement": "/api/v2/case/supplement",
    "withdrawal": "/api/v2/case/withdraw",
    "rating": "/api/v2/case/rate",
}
HEARTBEAT_PATH = "/api/v2/heartbeat"

ERRORS = {
    "100001": "签名验证失败",
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
    """A wrapper failed its signature (``code`` 100001), decryption (100002) or freshness."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(ERRORS[code])


@dataclass(frozen=True)
class Opened:
    """A verified, decrypted wrapper: its business JSON and the session key it used."""

    data: Any
    session_key: bytes
    key_id: str


def signing_string(wrapper: Mapping[str, Any]) -> bytes:
    return "|".join(str(wrapper.get(name, "")) for name in SIGNED_FIELDS).encode()


def seal(
    app_id: str,
    signer: SM2PrivateKey,
    payload: Any,
    *,
    recipient: SM2PublicKey | None = None,
    session_key: bytes | None = None,
) -> tuple[dict[str, str], bytes]:
    """Encrypt and sign `payload`; return the wrapper and its session key.

    With `recipient`, a new session key travels in ``encKey``; without, the given
    `session_key` (the request's, for an answer) is used and not sent.
    """
    if recipient is not None:
        session_key = secrets.token_bytes(SESSION_KEY_BYTES)
        enc_key = base64.b64encode(recipient.encrypt(session_key)).decode()
    elif session_key is not None:
        enc_key = ""
    else:
        raise ValueError("seal needs a recipient's key or the session key to answer with")
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(payload, ensure_ascii=False, default=str).encode())
    plain += padder.finalize()
    encryptor = Cipher(algorithms.SM4(session_key), modes.CBC(iv)).encryptor()
    cipher = encryptor.update(plain) + encryptor.finalize()
    wrapper = {
        "appId": app_id,
        "keyId": signer.public_key().thumbprint(),
        "timestamp": str(int(time.time())),
        "nonce": secrets.token_hex(16),
        "encType": ENC_TYPE,
        "signType": SIGN_TYPE,
        "encKey": enc_key,
        "iv": base64.b64encode(iv).decode(),
        "data": base64.b64encode(cipher).decode(),
    }
    if not enc_key:
        del wrapper["encKey"]
    wrapper["sign"] = base64.b64encode(signer.sign(signing_string(wrapper))).decode()
    return wrapper, session_key


def open_sealed(
    app_id: str,
    wrapper: Mapping[str, Any],
    *,
    sender: SM2PublicKey,
    recipient: SM2PrivateKey | None = None,
    session_key: bytes | None = None,
    check_time: bool = True,
) -> Opened:
    """Verify `wrapper`'s SM2 signature (by `sender`) and freshness, then decrypt it.

    The session key is opened from ``encKey`` with `recipient`, or is the given
    `session_key` (an answer to our request). Raises `ProtocolError` with the
    region's code for each failure.
    """
    try:
        signature = base64.b64decode(str(wrapper.get("sign", "")), validate=True)
        if wrapper.get("appId") != app_id:
            raise InvalidSignature("another appId")
        sender.verify(signature, signing_string(wrapper))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise ProtocolError("100001") from exc
    if check_time:
        try:
            skew = abs(time.time() - int(str(wrapper.get("timestamp"))))
        except ValueError as exc:
            raise ProtocolError("100003") from exc
        if skew > MAX_SKEW_SECONDS:
            raise ProtocolError("100003")
    try:
        enc_key = str(wrapper.get("encKey", ""))
        if enc_key:
            if recipient is None:
                raise DecryptionError("an envelope where none was expected")
            session_key = recipient.decrypt(base64.b64decode(enc_key, validate=True))
        if session_key is None or len(session_key) != SESSION_KEY_BYTES:
            raise DecryptionError("no 16-byte session key")
        iv = base64.b64decode(str(wrapper["iv"]), validate=True)
        cipher = base64.b64decode(str(wrapper["data"]), validate=True)
        decryptor = Cipher(algorithms.SM4(session_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(cipher) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        data = load_json(plain, max_bytes=len(plain))
    except (KeyError, ValueError, binascii.Error, DecryptionError) as exc:
        raise ProtocolError("100002") from exc
    return Opened(data=data, session_key=session_key, key_id=str(wrapper.get("keyId", "")))
