"""SM2 wire formats, independent of the library that does the arithmetic.

- the recommended curve's parameters (GM/T 0003.5-2012, GB/T 32918.5-2017);
- Z_A, the hash of the signer's ID and key that SM2 signatures cover (GM/T 0003.2 §5.5);
- signatures as DER ``SEQUENCE {r, s}`` (GM/T 0009 §7.3) or raw ``r || s`` (64 bytes);
- ciphertexts as DER ``SEQUENCE {x, y, hash C3, ciphertext C2}`` (GM/T 0009 §7.2) or
  raw ``C1 || C3 || C2`` with C1 = ``04 || x || y`` (GM/T 0003.4).

Parsers are strict (minimal DER, no trailing bytes, coordinates below p) and raise
`ValueError`; `gateway.security.sm2` turns that into the gateway's errors.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

POINT_SIZE = 65  # 04 || x || y
HASH_SIZE = 32  # SM3


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _int32(value: int) -> bytes:
    return value.to_bytes(32, "big")


def za(point: bytes, distid: bytes) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA); ENTL is ID's length in bits."""
    if len(point) != POINT_SIZE or point[0] != 4:
        raise ValueError("an SM2 public key is an uncompressed point of 65 bytes")
    bits = len(distid) * 8
    if bits > 0xFFFF:
        raise ValueError("an SM2 ID is at most 8191 bytes")
    curve = b"".join(_int32(v) for v in (A, B, GX, GY))
    return sm3(bits.to_bytes(2, "big") + distid + curve + point[1:])


def signature_to_raw(der: bytes) -> bytes:
    """DER ``SEQUENCE {r, s}`` to the 64 bytes ``r || s``."""
    r, s = decode_dss_signature(der)
    if not (0 < r < N and 0 < s < N) or encode_dss_signature(r, s) != der:
        raise ValueError("not a canonical SM2 signature")
    return _int32(r) + _int32(s)


def signature_from_raw(raw: bytes) -> bytes:
    """The 64 bytes ``r || s`` to DER; r and s must lie in [1, n-1]."""
    if len(raw) != 64:
        raise ValueError("a raw SM2 signature is 64 bytes (r || s)")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (0 < r < N and 0 < s < N):
        raise ValueError("r and s must lie in [1, n-1]")
    return encode_dss_signature(r, s)


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _integer(value: int) -> bytes:
    octets = value.to_bytes(value.bit_length() // 8 + 1, "big")  # room for a 0 sign byte
    return _tlv(0x02, octets)


def ciphertext_to_der(raw: bytes) -> bytes:
    """``04 || x || y || C3 || C2`` to DER ``SEQUENCE {x, y, C3, C2}``."""
    if len(raw) <= POINT_SIZE + HASH_SIZE or raw[0] != 4:
        raise ValueError("C1C3C2 starts with an uncompressed point (04 || x || y) and C3")
    x, y = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big")
    c3, c2 = raw[65:97], raw[97:]
    body = _integer(x) + _integer(y) + _tlv(0x04, c3) + _tlv(0x04, c2)
    return _tlv(0x30, body)


class _Reader:
    """A strict DER reader over one buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def element(self, tag: int) -> bytes:
        data, at = self.data, self.at
        if at + 2 > len(data) or data[at] != tag:
            raise ValueError(f"expected DER tag {tag:#04x}")
        first = data[at + 1]
        at += 2
        if first < 0x80:
            size = first
        else:
            count = first & 0x7F
            if not 0 < count <= 4 or at + count > len(data) or data[at] == 0:
                raise ValueError("bad DER length")
            size = int.from_bytes(data[at : at + count], "big")
            at += count
            if size < 0x80:
                raise ValueError("DER length not minimal")
        if at + size > len(data):
            raise ValueError("DER value runs past the end")
        self.at = at + size
        return data[at : at + size]

    def done(self) -> bool:
        return self.at == len(self.data)


def _coordinate(octets: bytes) -> bytes:
    if (
        not octets
        or (octets[0] & 0x80)
        or (len(octets) > 1 and octets[0] == 0 and octets[1] < 0x80)
    ):
        raise ValueError("not a minimal non-negative DER INTEGER")
    value = int.from_bytes(octets, "big")
    if value >= P:
        raise ValueError("a coordinate must be below p")
    return _int32(value)


def ciphertext_from_der(der: bytes) -> bytes:
    """DER ``SEQUENCE {x, y, C3, C2}`` to ``04 || x || y || C3 || C2``."""
    outer = _Reader(der)
    body = _Reader(outer.element(0x30))
    if not outer.done():
        raise ValueError("trailing bytes after the ciphertext")
    x = _coordinate(body.element(0x02))
    y = _coordinate(body.element(0x02))
    c3 = body.element(0x04)
    c2 = body.element(0x04)
    if not body.done() or len(c3) != HASH_SIZE or not c2:
        raise ValueError("an SM2 ciphertext is x, y, a 32-byte C3 and a non-empty C2")
    return b"\x04" + x + y + c3 + c2


def canonical_ciphertext(der: bytes) -> bytes:
    """`der` re-encoded minimally; raises `ValueError` if it is not an SM2 ciphertext."""
    return ciphertext_to_der(ciphertext_from_der(der))
