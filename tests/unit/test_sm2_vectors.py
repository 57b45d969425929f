"""SM2 against the published examples (GM/T 0003.5, GB/T 32918.2 Annex A).

OpenSSL draws k from its CSPRNG and offers no way to fix it, so the fixed-k
signature cannot be *reproduced* through the library. It is checked instead as
far as it can be: Z_A and e exactly, the published (r, s) verifying under OpenSSL
both over the message (OpenSSL computes Z_A) and over the given e; and the vector
itself is recomputed from k with a naive textbook model below (independent of
OpenSSL), so a wrong vector cannot pass silently. The encryption example is
checked by decrypting the published C1C3C2 with the published key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import InvalidSignature
from gateway.security import sm2_formats
from gateway.security.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey

# A copy of ../shared/reference/sm2/vectors.json, so the suite runs without shared/.
VECTORS_FILE = Path(__file__).resolve().parents[1] / "data" / "sm2_vectors.json"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sm2" / "vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
CURVE = VECTORS["recommended_curve"]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def point_of(vector: dict[str, Any]) -> bytes:
    return b"\x04" + h(vector["public_key_x"]) + h(vector["public_key_y"])


# --- a naive affine model of the curve arithmetic: only to recompute the vectors ---


def _add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    p, a = sm2_formats.P, sm2_formats.A
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % p == 0:
        return None
    if p1 == p2:
        slope = (3 * p1[0] * p1[0] + a) * pow(2 * p1[1], -1, p) % p
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, p) % p
    x = (slope * slope - p1[0] - p2[0]) % p
    return x, (slope * (p1[0] - x) - p1[1]) % p


def _multiply(k: int, point: tuple[int, int]) -> tuple[int, int]:
    result: tuple[int, int] | None = None
    addend: tuple[int, int] | None = point
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        k >>= 1
    assert result is not None
    return result


G = (sm2_formats.GX, sm2_formats.GY)


# --- the recommended curve (GM/T 0003.5) ---


def test_the_copy_matches_the_shared_reference() -> None:
    if not SHARED.is_file():
        pytest.skip("needs ../shared/reference/sm2/vectors.json")
    assert json.loads(SHARED.read_text(encoding="utf-8")) == VECTORS


def test_the_curve_constants_are_openssls() -> None:
    """Our Z_A uses our copy of the curve: it must be the one OpenSSL signs on."""
    key = SM2PrivateKey.generate()
    d_times_g = key.public_key().point
    assert len(d_times_g) == 65
    x, y = int.from_bytes(d_times_g[1:33], "big"), int.from_bytes(d_times_g[33:], "big")
    p = sm2_formats.P
    assert (y * y - (x * x * x + sm2_formats.A * x + sm2_formats.B)) % p == 0
    assert _multiply(sm2_formats.N - 1, G) == (G[0], p - G[1])  # n is G's order


def test_public_key_is_d_times_g() -> None:
    d = int(CURVE["private_key"], 16)
    assert _multiply(d, G) == (int(CURVE["public_key_x"], 16), int(CURVE["public_key_y"], 16))
    key = SM2PrivateKey.from_raw(h(CURVE["private_key"]), point_of(CURVE))
    assert key.public_key().point == point_of(CURVE)


def test_za_and_e_exactly() -> None:
    public = SM2PublicKey.from_point(point_of(CURVE))
    za = public.za(CURVE["id"].encode())
    assert za.hex().upper() == CURVE["za"]
    message = CURVE["signature"]["message"].encode()
    assert sm2_formats.sm3(za + message).hex().upper() == CURVE["signature"]["e"]
    assert CURVE["id"].encode() == DEFAULT_ID


def test_sm3_of_abc() -> None:
    assert sm2_formats.sm3(b"abc").hex() == VECTORS["sm3_abc"]


def test_the_fixed_k_signature_follows_from_k() -> None:
    """Recompute (r, s) from the published k with the naive model: the vector is sound."""
    vector = CURVE["signature"]
    n, d, k = sm2_formats.N, int(CURVE["private_key"], 16), int(vector["k"], 16)
    e = int(vector["e"], 16)
    r = (e + _multiply(k, G)[0]) % n
    s = pow(1 + d, -1, n) * (k - r * d) % n
    assert (f"{r:064X}", f"{s:064X}") == (vector["r"], vector["s"])


def test_openssl_verifies_the_published_signature() -> None:
    vector = CURVE["signature"]
    public = SM2PublicKey.from_point(point_of(CURVE))
    raw = h(vector["r"]) + h(vector["s"])
    message = vector["message"].encode()
    public.verify(raw, message, distid=CURVE["id"].encode(), encoding="raw")
    public.verify(sm2_formats.signature_from_raw(raw), message)  # the default ID, DER
    public.verify_digest(sm2_formats.signature_from_raw(raw), h(vector["e"]))


def test_the_published_signature_fails_with_another_id_or_message() -> None:
    vector = CURVE["signature"]
    public = SM2PublicKey.from_point(point_of(CURVE))
    raw = h(vector["r"]) + h(vector["s"])
    with pytest.raises(InvalidSignature):
        public.verify(raw, vector["message"].encode(), distid=b"", encoding="raw")
    with pytest.raises(InvalidSignature):
        public.verify(raw, b"message digesT", encoding="raw")


def test_the_encryption_example_decrypts() -> None:
    vector = CURVE["encryption"]
    key = SM2PrivateKey.from_raw(h(CURVE["private_key"]), point_of(CURVE))
    c1 = b"\x04" + h(vector["c1_x"]) + h(vector["c1_y"])
    assert _multiply(int(vector["k"], 16), G) == (int(vector["c1_x"], 16), int(vector["c1_y"], 16))
    ciphertext = c1 + h(vector["c3"]) + h(vector["c2"])
    assert key.decrypt(ciphertext, encoding="c1c3c2") == vector["message"].encode()
    der = sm2_formats.ciphertext_to_der(ciphertext)
    assert key.decrypt(der) == vector["message"].encode()
    assert sm2_formats.ciphertext_from_der(der) == ciphertext


# --- the test curve (GB/T 32918.2 Annex A) ---


def test_annex_a_za_and_e_with_its_own_curve() -> None:
    """Z_A and e on the Annex A test curve, by the same formula with that curve's a, b, G.

    OpenSSL's SM2 key type accepts only the recommended curve by name, so the
    signature on this curve is not checked through the library (see the report).
    """
    vector = VECTORS["test_curve_annex_a"]
    a = 0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498
    b = 0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A
    gx = 0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D
    gy = 0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2
    ident = vector["id"].encode()
    curve = b"".join(v.to_bytes(32, "big") for v in (a, b, gx, gy))
    za = sm2_formats.sm3((len(ident) * 8).to_bytes(2, "big") + ident + curve + point_of(vector)[1:])
    assert za.hex().upper() == vector["za"]
    assert sm2_formats.sm3(za + vector["message"].encode()).hex().upper() == vector["e"]
