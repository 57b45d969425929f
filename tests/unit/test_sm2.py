"""SM2 signatures, envelopes and keys: behaviour, and refusal of every malformed input.

Every bad signature, ciphertext or key must end in the gateway's own error
(`InvalidSignature`, `DecryptionError`, `InvalidKey`), never a crash, an OpenSSL
error left on the thread's queue, or a passphrase prompt.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import CryptoUnavailable, DecryptionError, InvalidKey, InvalidSignature
from gateway.security import sm2_formats, sm2_openssl
from gateway.security.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey, library_version

KEY = SM2PrivateKey.generate()
PUBLIC = KEY.public_key()
OTHER = SM2PrivateKey.generate()
MESSAGE = "张家港 320582 办件".encode()
SIGNATURE = KEY.sign(MESSAGE)
RAW_SIGNATURE = sm2_formats.signature_to_raw(SIGNATURE)
ENVELOPE = PUBLIC.encrypt(b"0123456789abcdef")
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _error_queue_left_clean() -> object:
    yield None
    assert sm2_openssl.lib().ERR_peek_error() == 0, "an OpenSSL error was left on the queue"


def test_the_system_openssl_3_does_the_work() -> None:
    assert library_version().startswith("OpenSSL 3.")


def test_sign_and_verify_with_the_default_id() -> None:
    PUBLIC.verify(SIGNATURE, MESSAGE)
    PUBLIC.verify(SIGNATURE, MESSAGE, distid=DEFAULT_ID)


def test_signatures_use_a_fresh_k_each_time() -> None:
    assert KEY.sign(MESSAGE) != KEY.sign(MESSAGE)


def test_raw_and_der_encodings() -> None:
    raw = KEY.sign(MESSAGE, encoding="raw")
    assert len(raw) == 64
    PUBLIC.verify(raw, MESSAGE, encoding="raw")
    PUBLIC.verify(sm2_formats.signature_from_raw(raw), MESSAGE)
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(raw, MESSAGE)  # raw bytes are not DER


def test_a_custom_id_binds_the_signature() -> None:
    signature = KEY.sign(MESSAGE, distid=b"zhangjiagang@320582")
    PUBLIC.verify(signature, MESSAGE, distid=b"zhangjiagang@320582")
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(SIGNATURE, MESSAGE, distid=b"")


def test_another_key_or_message_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        OTHER.public_key().verify(SIGNATURE, MESSAGE)
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(SIGNATURE, MESSAGE + b".")


def test_empty_and_large_messages() -> None:
    PUBLIC.verify(KEY.sign(b""), b"")
    big = bytes(3 * 1024 * 1024)
    PUBLIC.verify(KEY.sign(big), big)


@pytest.mark.parametrize(
    "raw",
    [
        bytes(64),
        sm2_formats.N.to_bytes(32, "big") + b"\x01" * 32,
        b"\x01" * 32 + sm2_formats.N.to_bytes(32, "big"),
        b"\xff" * 64,
        b"\x01" * 63,
        b"\x01" * 65,
    ],
    ids=["zero", "r=n", "s=n", "above-n", "short", "long"],
)
def test_out_of_range_raw_signatures_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(raw, MESSAGE, encoding="raw")


def test_non_canonical_der_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(SIGNATURE + b"\x00", MESSAGE)
    padded = bytearray(SIGNATURE)
    padded[1] += 1
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(bytes(padded) + b"\x00", MESSAGE)
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(b"\x30" + b"\x00" * 200, MESSAGE)


@HYPOTHESIS
@given(st.binary(max_size=200), st.sampled_from(["der", "raw"]))
def test_arbitrary_bytes_are_never_a_signature(junk: bytes, encoding: str) -> None:
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(junk, MESSAGE, encoding=encoding)  # type: ignore[arg-type]


@HYPOTHESIS
@given(st.integers(0, len(SIGNATURE) * 8 - 1))
def test_any_flipped_bit_breaks_the_signature(bit: int) -> None:
    tampered = bytearray(SIGNATURE)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(bytes(tampered), MESSAGE)


@HYPOTHESIS
@given(st.binary(max_size=64).filter(lambda i: i != DEFAULT_ID))
def test_any_other_id_is_refused(distid: bytes) -> None:
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(SIGNATURE, MESSAGE, distid=distid)


def test_oversized_inputs_are_refused_not_passed_to_c() -> None:
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(SIGNATURE, MESSAGE, distid=b"x" * (sm2_openssl.MAX_ID + 1))
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(SIGNATURE, bytes(sm2_openssl.MAX_MESSAGE + 1))
    with pytest.raises(DecryptionError):
        KEY.decrypt(b"\x30\x83" + bytes(sm2_openssl.MAX_CIPHERTEXT))
    with pytest.raises(InvalidKey):
        PUBLIC.encrypt(bytes(sm2_openssl.MAX_PLAINTEXT + 1))


# --- envelopes ---


def test_encrypt_and_decrypt_both_layouts() -> None:
    assert KEY.decrypt(ENVELOPE) == b"0123456789abcdef"
    raw = PUBLIC.encrypt(b"session key", encoding="c1c3c2")
    assert raw[0] == 4
    assert len(raw) == 65 + 32 + len(b"session key")
    assert KEY.decrypt(raw, encoding="c1c3c2") == b"session key"
    assert sm2_formats.ciphertext_from_der(ENVELOPE)[97:] != b"0123456789abcdef"


def test_envelopes_are_randomised() -> None:
    assert PUBLIC.encrypt(b"k") != PUBLIC.encrypt(b"k")


def test_another_key_cannot_open_the_envelope() -> None:
    with pytest.raises(DecryptionError):
        OTHER.decrypt(ENVELOPE)


def test_empty_plaintext_is_refused() -> None:
    with pytest.raises(InvalidKey):
        PUBLIC.encrypt(b"")


RAW_ENVELOPE = sm2_formats.ciphertext_from_der(ENVELOPE)


@pytest.mark.parametrize(
    ("start", "end"), [(1, 65), (65, 97), (97, len(RAW_ENVELOPE))], ids=["C1", "C3", "C2"]
)
def test_tampering_with_any_part_is_detected(start: int, end: int) -> None:
    for offset in (start, (start + end) // 2, end - 1):
        tampered = bytearray(RAW_ENVELOPE)
        tampered[offset] ^= 0x01
        with pytest.raises(DecryptionError):
            KEY.decrypt(bytes(tampered), encoding="c1c3c2")


def test_c1_off_the_curve_is_refused() -> None:
    off_curve = b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big")
    with pytest.raises(DecryptionError):
        KEY.decrypt(off_curve + RAW_ENVELOPE[65:], encoding="c1c3c2")
    at_p = b"\x04" + sm2_formats.P.to_bytes(32, "big") + RAW_ENVELOPE[33:]
    with pytest.raises(DecryptionError):
        KEY.decrypt(at_p, encoding="c1c3c2")


def test_ciphertext_der_must_be_canonical() -> None:
    with pytest.raises(DecryptionError):
        KEY.decrypt(ENVELOPE + b"\x00")
    with pytest.raises(DecryptionError):
        KEY.decrypt(ENVELOPE[:-1])


@HYPOTHESIS
@given(st.binary(max_size=300), st.sampled_from(["der", "c1c3c2"]))
def test_arbitrary_bytes_are_never_an_envelope(junk: bytes, encoding: str) -> None:
    with pytest.raises(DecryptionError):
        KEY.decrypt(junk, encoding=encoding)  # type: ignore[arg-type]


@HYPOTHESIS
@given(st.integers(0, len(ENVELOPE) * 8 - 1))
def test_any_flipped_bit_of_the_der_envelope_is_refused(bit: int) -> None:
    tampered = bytearray(ENVELOPE)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptionError):
        KEY.decrypt(bytes(tampered))


@HYPOTHESIS
@given(st.binary(min_size=1, max_size=2048))
def test_any_plaintext_round_trips(plaintext: bytes) -> None:
    assert KEY.decrypt(PUBLIC.encrypt(plaintext, encoding="c1c3c2"), encoding="c1c3c2") == (
        plaintext
    )


# --- keys ---


def test_pkcs8_round_trip_encrypted() -> None:
    pem = KEY.to_pem(b"correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = SM2PrivateKey.from_pem(pem, b"correct horse")
    assert loaded.public_key() == PUBLIC
    PUBLIC.verify(loaded.sign(MESSAGE), MESSAGE)


def test_wrong_or_missing_passphrase_is_refused_without_prompting() -> None:
    pem = KEY.to_pem(b"correct horse")
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_pem(pem, b"wrong")
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_pem(pem, None)


def test_unencrypted_pkcs8_and_public_forms() -> None:
    assert SM2PrivateKey.from_pem(KEY.to_pem(None)).public_key() == PUBLIC
    assert SM2PublicKey.from_pem(PUBLIC.to_pem()) == PUBLIC
    assert SM2PublicKey.from_der(PUBLIC.to_der()) == PUBLIC
    assert SM2PublicKey.from_jwk(PUBLIC.jwk()) == PUBLIC
    assert SM2PublicKey.load(PUBLIC.point.hex()) == PUBLIC
    assert SM2PublicKey.load(PUBLIC.to_pem().decode()) == PUBLIC
    assert PUBLIC.jwk()["kty"] == "EC"
    assert PUBLIC.jwk()["crv"] == "SM2"


def test_other_key_types_are_not_sm2() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    ed = Ed25519PrivateKey.generate()
    for private in (p256, ed):
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with pytest.raises(InvalidKey):
            SM2PrivateKey.from_pem(pem)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(InvalidKey):
            SM2PublicKey.from_pem(public_pem)


def test_off_curve_public_keys_are_refused() -> None:
    x = int.from_bytes(PUBLIC.point[1:33], "big")
    y = int.from_bytes(PUBLIC.point[33:], "big")
    for bad in [(x, y + 1), (0, 0), (x, sm2_formats.P + y)]:
        point = b"\x04" + bad[0].to_bytes(32, "big") + (bad[1] % 2**256).to_bytes(32, "big")
        with pytest.raises(InvalidKey):
            SM2PublicKey.from_point(point)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_point(b"\x02" + PUBLIC.point[1:33])  # compressed: not accepted


def test_private_key_range_and_pairing() -> None:
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_raw(bytes(32), PUBLIC.point)
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_raw((sm2_formats.N - 1).to_bytes(32, "big"), PUBLIC.point)
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_raw((5).to_bytes(32, "big"), PUBLIC.point)  # not this point's scalar


@HYPOTHESIS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_never_a_key(junk: bytes) -> None:
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_der(junk)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_pem(
            b"-----BEGIN PUBLIC KEY-----\n" + junk + b"\n-----END PUBLIC KEY-----"
        )
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_pem(junk, b"x")


@HYPOTHESIS
@given(st.binary(min_size=64, max_size=64))
def test_random_points_are_refused_unless_on_the_curve(coordinates: bytes) -> None:
    x, y = int.from_bytes(coordinates[:32], "big"), int.from_bytes(coordinates[32:], "big")
    on_curve = (
        y < sm2_formats.P
        and x < sm2_formats.P
        and (y * y - x**3 - sm2_formats.A * x - sm2_formats.B) % sm2_formats.P == 0
    )
    if on_curve:  # practically never, but then it must load
        SM2PublicKey.from_point(b"\x04" + coordinates)
        return
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_point(b"\x04" + coordinates)


def test_der_with_trailing_bytes_is_refused() -> None:
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_der(PUBLIC.to_der() + b"\x00")


def test_thumbprint_is_stable_and_repr_shows_no_secret() -> None:
    assert PUBLIC.thumbprint() == SM2PublicKey.from_pem(PUBLIC.to_pem()).thumbprint()
    assert KEY.to_pem(None).decode() not in repr(KEY)
    assert PUBLIC.thumbprint() in repr(KEY)


def test_a_missing_system_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm2_openssl, "SONAME", "libcrypto-absent.so.3")
    monkeypatch.setattr(sm2_openssl, "_lib_instance", None)
    with pytest.raises(CryptoUnavailable, match=r"libcrypto-absent\.so\.3.*libssl3"):
        SM2PrivateKey.generate()
    with pytest.raises(CryptoUnavailable):
        library_version()
    monkeypatch.undo()  # the real library again, for the fixture's queue check
