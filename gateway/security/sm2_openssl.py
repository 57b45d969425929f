"""The SM2 backend: a thin ctypes binding to the system OpenSSL 3 (``libcrypto.so.3``).

Why this library (issue 17, measured): Debian's OpenSSL 3 has complete SM2 (any
ID, DER signatures, PKCS#8 keys, encryption that checks C3 and C1), is patched by
the distribution, and releases the GIL during each call (ctypes drops it around
foreign calls), so verifications scale across threads. ``cryptography`` bundles its
own OpenSSL but exposes no SM2; we load the *system* library by soname instead.

Rules this module keeps, because C is unforgiving:
- every OpenSSL object is freed on every path (``try``/``finally``; keys by a
  finaliser), every return code is checked, and every input size is bounded
  before it reaches C;
- the thread's OpenSSL error queue is left as it was found (`ERR_set_mark` /
  `ERR_pop_to_mark`), so other users of libcrypto (Python's ``ssl``) never see our
  errors;
- a failure raises `OpenSSLFailure`, which `gateway.security.sm2` translates into
  the gateway's own errors. Nothing here is public API: use `gateway.security.sm2`.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SONAME = "libcrypto.so.3"
MIN_VERSION = 0x30000000  # OpenSSL 3.0.0: EVP_PKEY_CTX_set1_id, *_ex APIs, providers

MAX_MESSAGE = 64 * 1024 * 1024  # what we sign or verify: request bodies are far smaller
MAX_SIGNATURE_DER = 128  # an SM2 DER signature is at most 72 bytes
MAX_ID = 1024  # GM/T 0003.2: ENTL is 16 bits of *bits*, so at most 8191 bytes; we need 16
MAX_PLAINTEXT = 1024 * 1024  # envelopes carry session keys, not documents
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
MAX_KEY_FILE = 64 * 1024

_OSSL_PARAM_UNSIGNED_INTEGER = 2
_OSSL_PARAM_UTF8_STRING = 4
_OSSL_PARAM_OCTET_STRING = 5
_OSSL_PARAM_UNMODIFIED = ctypes.c_size_t(-1).value
_SELECT_PRIVATE = 0x01
_SELECT_PUBLIC = 0x02
_SELECT_ALL_PARAMETERS = 0x04 | 0x80
_EVP_PKEY_PUBLIC_KEY = _SELECT_PUBLIC | _SELECT_ALL_PARAMETERS
_EVP_PKEY_KEYPAIR = _SELECT_PRIVATE | _EVP_PKEY_PUBLIC_KEY
_BIO_CTRL_INFO = 3

_p = ctypes.c_void_p
_int = ctypes.c_int
_size = ctypes.c_size_t
_str = ctypes.c_char_p


class OpenSSLUnavailable(RuntimeError):
    """The system libcrypto.so.3 is missing or too old."""


class OpenSSLFailure(Exception):
    """An OpenSSL call failed; ``str()`` holds OpenSSL's first reason, if any."""


class _Param(ctypes.Structure):
    """``OSSL_PARAM`` (openssl/core.h)."""

    _fields_ = [
        ("key", _str),
        ("data_type", ctypes.c_uint),
        ("data", _p),
        ("data_size", _size),
        ("return_size", _size),
    ]


_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version_num": (ctypes.c_ulong, []),
    "OpenSSL_version": (_str, [_int]),
    "ERR_set_mark": (_int, []),
    "ERR_pop_to_mark": (_int, []),
    "ERR_peek_error": (ctypes.c_ulong, []),
    "ERR_error_string_n": (None, [ctypes.c_ulong, _p, _size]),
    "EVP_PKEY_free": (None, [_p]),
    "EVP_PKEY_is_a": (_int, [_p, _str]),
    "EVP_PKEY_get_size": (_int, [_p]),
    "EVP_PKEY_get_octet_string_param": (_int, [_p, _str, _p, _size, ctypes.POINTER(_size)]),
    "EVP_PKEY_CTX_new_from_name": (_p, [_p, _str, _str]),
    "EVP_PKEY_CTX_new_from_pkey": (_p, [_p, _p, _str]),
    "EVP_PKEY_CTX_free": (None, [_p]),
    "EVP_PKEY_keygen_init": (_int, [_p]),
    "EVP_PKEY_generate": (_int, [_p, ctypes.POINTER(_p)]),
    "EVP_PKEY_fromdata_init": (_int, [_p]),
    "EVP_PKEY_fromdata": (_int, [_p, ctypes.POINTER(_p), _int, ctypes.POINTER(_Param)]),
    "EVP_PKEY_public_check": (_int, [_p]),
    "EVP_PKEY_private_check": (_int, [_p]),
    "EVP_PKEY_pairwise_check": (_int, [_p]),
    "EVP_MD_CTX_new": (_p, []),
    "EVP_MD_CTX_free": (None, [_p]),
    "EVP_DigestSignInit_ex": (_int, [_p, ctypes.POINTER(_p), _str, _p, _str, _p, _p]),
    "EVP_DigestSign": (_int, [_p, _p, ctypes.POINTER(_size), _p, _size]),
    "EVP_DigestVerifyInit_ex": (_int, [_p, ctypes.POINTER(_p), _str, _p, _str, _p, _p]),
    "EVP_PKEY_CTX_set1_id": (_int, [_p, _p, _int]),
    "EVP_DigestVerify": (_int, [_p, _p, _size, _p, _size]),
    "EVP_PKEY_verify_init": (_int, [_p]),
    "EVP_PKEY_verify": (_int, [_p, _p, _size, _p, _size]),
    "EVP_PKEY_encrypt_init": (_int, [_p]),
    "EVP_PKEY_encrypt": (_int, [_p, _p, ctypes.POINTER(_size), _p, _size]),
    "EVP_PKEY_decrypt_init": (_int, [_p]),
    "EVP_PKEY_decrypt": (_int, [_p, _p, ctypes.POINTER(_size), _p, _size]),
    "EVP_aes_256_cbc": (_p, []),
    "BIO_s_mem": (_p, []),
    "BIO_new": (_p, [_p]),
    "BIO_new_mem_buf": (_p, [_p, _int]),
    "BIO_free": (_int, [_p]),
    "BIO_ctrl": (ctypes.c_long, [_p, _int, ctypes.c_long, _p]),
    "PEM_read_bio_PrivateKey": (_p, [_p, _p, _p, _p]),
    "PEM_read_bio_PUBKEY": (_p, [_p, _p, _p, _p]),
    "PEM_write_bio_PKCS8PrivateKey": (_int, [_p, _p, _p, _p, _int, _p, _p]),
    "PEM_write_bio_PUBKEY": (_int, [_p, _p]),
    "d2i_PUBKEY": (_p, [_p, ctypes.POINTER(_p), ctypes.c_long]),
    "i2d_PUBKEY": (_int, [_p, ctypes.POINTER(_p)]),
}


class _Lib:
    """libcrypto's functions with their C signatures declared (never ctypes' int default)."""

    def __init__(self) -> None:
        try:
            # By soname: the dynamic linker's choice, Debian's package, never a wheel's copy.
            dll = ctypes.CDLL(SONAME)
        except OSError as exc:
            raise OpenSSLUnavailable(
                f"SM2 needs the system OpenSSL 3 library {SONAME} "
                f"(Debian/Ubuntu package libssl3): {exc}"
            ) from exc
        for name, (restype, argtypes) in _SIGNATURES.items():
            try:
                function = getattr(dll, name)
            except AttributeError as exc:
                raise OpenSSLUnavailable(f"{SONAME} lacks {name}: not OpenSSL 3") from exc
            function.restype = restype
            function.argtypes = argtypes
            setattr(self, name, function)
        version = dll.OpenSSL_version_num()
        if version < MIN_VERSION:
            raise OpenSSLUnavailable(f"{SONAME} is version {version:#x}; SM2 needs OpenSSL 3")
        self.version: str = dll.OpenSSL_version(0).decode("ascii", "replace")

    def __getattr__(self, name: str) -> Any:  # for mypy: attributes set in __init__
        raise AttributeError(name)


_lib_instance: _Lib | None = None
_lib_lock = threading.Lock()


def lib() -> _Lib:
    """The loaded library, loaded once; raises `OpenSSLUnavailable`."""
    global _lib_instance
    if _lib_instance is None:
        with _lib_lock:
            if _lib_instance is None:
                _lib_instance = _Lib()
    return _lib_instance


def version() -> str:
    """OpenSSL's version text, e.g. ``OpenSSL 3.0.19 27 Jan 2026``."""
    return lib().version


@contextmanager
def _errors() -> Iterator[None]:
    """Leave the thread's OpenSSL error queue as found, whatever happens inside."""
    crypto = lib()
    crypto.ERR_set_mark()
    try:
        yield
    finally:
        crypto.ERR_pop_to_mark()


def _fail(what: str) -> OpenSSLFailure:
    crypto = lib()
    code = crypto.ERR_peek_error()
    if code:
        buffer = ctypes.create_string_buffer(256)
        crypto.ERR_error_string_n(code, buffer, len(buffer))
        return OpenSSLFailure(f"{what}: {buffer.value.decode('ascii', 'replace')}")
    return OpenSSLFailure(what)


def _check(result: int, what: str) -> None:
    if result != 1:
        raise _fail(what)


def _bounded(data: bytes, limit: int, what: str) -> bytes:
    if not isinstance(data, bytes):
        raise TypeError(f"{what} must be bytes")
    if len(data) > limit:
        raise OpenSSLFailure(f"{what} longer than {limit} bytes")
    return data


def _param(key: bytes, data_type: int, buffer: ctypes.Array[ctypes.c_char]) -> _Param:
    """A parameter pointing into `buffer`, which the caller keeps alive while it is used."""
    return _Param(key, data_type, ctypes.cast(buffer, _p), len(buffer), _OSSL_PARAM_UNMODIFIED)


class PKey:
    """Owns one reference to an ``EVP_PKEY`` of type SM2; freed when collected."""

    def __init__(self, pointer: int, *, private: bool) -> None:
        self.pointer = pointer
        self.private = private
        self._finalizer = weakref.finalize(self, lib().EVP_PKEY_free, pointer)


def _adopt(pointer: int | None, what: str, *, private: bool) -> PKey:
    """Wrap a new ``EVP_PKEY``, or free it and refuse it if it is not a valid SM2 key."""
    if not pointer:
        raise _fail(what)
    key = PKey(pointer, private=private)  # from here the finaliser frees it on any failure
    crypto = lib()
    if crypto.EVP_PKEY_is_a(pointer, b"SM2") != 1:
        raise OpenSSLFailure(f"{what}: not an SM2 key")
    context = crypto.EVP_PKEY_CTX_new_from_pkey(None, pointer, None)
    if not context:
        raise _fail(what)
    try:
        _check(crypto.EVP_PKEY_public_check(context), f"{what}: public key not on the curve")
        if private:
            _check(crypto.EVP_PKEY_private_check(context), f"{what}: private key out of range")
            _check(crypto.EVP_PKEY_pairwise_check(context), f"{what}: halves do not match")
    finally:
        crypto.EVP_PKEY_CTX_free(context)
    return key


def generate() -> PKey:
    crypto = lib()
    with _errors():
        context = crypto.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not context:
            raise _fail("SM2 key generation")
        try:
            pointer = _p()
            _check(crypto.EVP_PKEY_keygen_init(context), "SM2 key generation")
            _check(crypto.EVP_PKEY_generate(context, ctypes.byref(pointer)), "SM2 key generation")
        finally:
            crypto.EVP_PKEY_CTX_free(context)
        return _adopt(pointer.value, "SM2 key generation", private=True)


def from_raw(public_point: bytes, private_scalar: bytes | None = None) -> PKey:
    """A key from its uncompressed point (65 bytes) and, for a private key, its scalar."""
    crypto = lib()
    # The buffers stay referenced by these locals until OpenSSL has copied them.
    group = ctypes.create_string_buffer(b"SM2", 3)
    point = ctypes.create_string_buffer(_bounded(public_point, 65, "public point"), 65)
    params = [
        _param(b"group", _OSSL_PARAM_UTF8_STRING, group),
        _param(b"pub", _OSSL_PARAM_OCTET_STRING, point),
    ]
    scalar = None
    if private_scalar is not None:
        # OSSL_PARAM integers are in native byte order.
        big_endian = _bounded(private_scalar, 32, "private key").rjust(32, b"\0")
        native = big_endian[::-1] if sys.byteorder == "little" else big_endian
        scalar = ctypes.create_string_buffer(native, 32)
        params.append(_param(b"priv", _OSSL_PARAM_UNSIGNED_INTEGER, scalar))
    selection = _EVP_PKEY_KEYPAIR if scalar is not None else _EVP_PKEY_PUBLIC_KEY
    array = (_Param * (len(params) + 1))(*params)  # the zeroed last one ends the list
    with _errors():
        context = crypto.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not context:
            raise _fail("SM2 key import")
        try:
            pointer = _p()
            _check(crypto.EVP_PKEY_fromdata_init(context), "SM2 key import")
            _check(
                crypto.EVP_PKEY_fromdata(context, ctypes.byref(pointer), selection, array),
                "SM2 key import",
            )
        finally:
            crypto.EVP_PKEY_CTX_free(context)
        return _adopt(pointer.value, "SM2 key import", private=scalar is not None)


def public_point(key: PKey) -> bytes:
    """The uncompressed point ``04 || x || y``."""
    crypto = lib()
    buffer = ctypes.create_string_buffer(65)
    length = _size(0)
    with _errors():
        _check(
            crypto.EVP_PKEY_get_octet_string_param(
                key.pointer, b"pub", buffer, len(buffer), ctypes.byref(length)
            ),
            "SM2 public key export",
        )
    if length.value != 65 or buffer.raw[0] != 4:
        raise OpenSSLFailure("SM2 public key export: not an uncompressed point")
    return buffer.raw


@contextmanager
def _memory_bio(data: bytes | None = None) -> Iterator[int]:
    crypto = lib()
    if data is None:
        bio = crypto.BIO_new(crypto.BIO_s_mem())
    else:
        bio = crypto.BIO_new_mem_buf(data, len(data))  # read-only view of `data`
    if not bio:
        raise _fail("BIO")
    try:
        yield bio
    finally:
        crypto.BIO_free(bio)


def _bio_bytes(bio: int) -> bytes:
    pointer = _p()
    length = lib().BIO_ctrl(bio, _BIO_CTRL_INFO, 0, ctypes.byref(pointer))
    if length < 0 or (length and not pointer.value):
        raise OpenSSLFailure("BIO read")
    return ctypes.string_at(pointer.value or 0, length) if length else b""


def load_private_pem(pem: bytes, passphrase: bytes | None) -> PKey:
    """PKCS#8 (encrypted or not) or SEC1 PEM. Never prompts: no passphrase means none."""
    pem = _bounded(pem, MAX_KEY_FILE, "key file")
    if passphrase is not None and b"\0" in passphrase:
        raise OpenSSLFailure("a passphrase cannot hold a NUL byte")
    # With a NULL callback OpenSSL uses `u` as the passphrase; an empty one fails
    # decryption instead of prompting on the terminal.
    secret = ctypes.create_string_buffer(passphrase or b"")
    crypto = lib()
    with _errors(), _memory_bio(pem) as bio:
        pointer = crypto.PEM_read_bio_PrivateKey(bio, None, None, secret)
        return _adopt(pointer, "SM2 private key", private=True)


def load_public_pem(pem: bytes) -> PKey:
    pem = _bounded(pem, MAX_KEY_FILE, "key file")
    crypto = lib()
    with _errors(), _memory_bio(pem) as bio:
        pointer = crypto.PEM_read_bio_PUBKEY(bio, None, None, None)
        return _adopt(pointer, "SM2 public key", private=False)


def load_public_der(der: bytes) -> PKey:
    """A DER SubjectPublicKeyInfo; trailing bytes are refused."""
    der = _bounded(der, MAX_KEY_FILE, "key")
    crypto = lib()
    buffer = ctypes.create_string_buffer(der, len(der))
    cursor = _p(ctypes.addressof(buffer))
    with _errors():
        pointer = crypto.d2i_PUBKEY(None, ctypes.byref(cursor), len(der))
        key = _adopt(pointer, "SM2 public key", private=False)
    if cursor.value != ctypes.addressof(buffer) + len(der):
        raise OpenSSLFailure("SM2 public key: trailing bytes after the DER")
    return key


def private_pem(key: PKey, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM; encrypted (PBES2, PBKDF2, AES-256-CBC) when a passphrase is given."""
    crypto = lib()
    if not key.private:
        raise OpenSSLFailure("not a private key")
    if passphrase is not None and not 0 < len(passphrase) <= 1024:
        raise OpenSSLFailure("a passphrase is 1 to 1024 bytes")
    cipher = crypto.EVP_aes_256_cbc() if passphrase else None
    with _errors(), _memory_bio() as bio:
        _check(
            crypto.PEM_write_bio_PKCS8PrivateKey(
                bio, key.pointer, cipher, passphrase, len(passphrase or b""), None, None
            ),
            "SM2 private key export",
        )
        return _bio_bytes(bio)


def public_pem(key: PKey) -> bytes:
    crypto = lib()
    with _errors(), _memory_bio() as bio:
        _check(crypto.PEM_write_bio_PUBKEY(bio, key.pointer), "SM2 public key export")
        return _bio_bytes(bio)


def public_der(key: PKey) -> bytes:
    crypto = lib()
    with _errors():
        length = crypto.i2d_PUBKEY(key.pointer, None)
        if length <= 0 or length > MAX_KEY_FILE:
            raise _fail("SM2 public key export")
        buffer = ctypes.create_string_buffer(length)
        cursor = _p(ctypes.addressof(buffer))
        if crypto.i2d_PUBKEY(key.pointer, ctypes.byref(cursor)) != length:
            raise _fail("SM2 public key export")
        return buffer.raw


@contextmanager
def _digest_context(key: PKey, distid: bytes, *, signing: bool) -> Iterator[int]:
    """An ``EVP_MD_CTX`` set up for SM2 with SM3 and Z_A over `distid`; freed on exit.

    The ID is set on the context's ``EVP_PKEY_CTX`` after the init: OpenSSL 3.0
    refuses ``distid`` among the init parameters. Z_A is computed on the first update.
    """
    crypto = lib()
    what = "SM2 sign" if signing else "SM2 verify"
    init = crypto.EVP_DigestSignInit_ex if signing else crypto.EVP_DigestVerifyInit_ex
    context = crypto.EVP_MD_CTX_new()
    if not context:
        raise _fail(what)
    try:
        key_context = _p()  # owned by `context`, freed with it
        _check(
            init(context, ctypes.byref(key_context), b"SM3", None, None, key.pointer, None), what
        )
        _check(crypto.EVP_PKEY_CTX_set1_id(key_context, distid, len(distid)), what)
        yield context
    finally:
        crypto.EVP_MD_CTX_free(context)


def sign(key: PKey, message: bytes, distid: bytes) -> bytes:
    """A DER signature over SM3(Z_A || message), Z_A computed with `distid`."""
    crypto = lib()
    if not key.private:
        raise OpenSSLFailure("signing needs a private key")
    message = _bounded(message, MAX_MESSAGE, "message")
    distid = _bounded(distid, MAX_ID, "SM2 ID")
    size = crypto.EVP_PKEY_get_size(key.pointer)
    if not 0 < size <= MAX_SIGNATURE_DER:
        raise OpenSSLFailure("SM2 signature size")
    buffer = ctypes.create_string_buffer(size)
    length = _size(size)
    with _errors(), _digest_context(key, distid, signing=True) as context:
        _check(
            crypto.EVP_DigestSign(context, buffer, ctypes.byref(length), message, len(message)),
            "SM2 sign",
        )
    if not 0 < length.value <= size:
        raise OpenSSLFailure("SM2 sign: bad length")
    return buffer.raw[: length.value]


def verify(key: PKey, signature: bytes, message: bytes, distid: bytes) -> bool:
    """Whether the DER `signature` is valid over `message` with `distid`; False on any fault."""
    crypto = lib()
    if not 0 < len(signature) <= MAX_SIGNATURE_DER:
        return False
    message = _bounded(message, MAX_MESSAGE, "message")
    distid = _bounded(distid, MAX_ID, "SM2 ID")
    with _errors(), _digest_context(key, distid, signing=False) as context:
        result = crypto.EVP_DigestVerify(context, signature, len(signature), message, len(message))
    return bool(result == 1)


def verify_digest(key: PKey, signature: bytes, digest: bytes) -> bool:
    """Whether the DER `signature` is valid over the 32-byte `digest` e = SM3(Z_A || M).

    Only for checking published test vectors, whose e is given: production
    verification goes through `verify`, which computes Z_A itself.
    """
    crypto = lib()
    if len(signature) > MAX_SIGNATURE_DER or len(digest) != 32 or not signature:
        return False
    with _errors():
        context = crypto.EVP_PKEY_CTX_new_from_pkey(None, key.pointer, None)
        if not context:
            raise _fail("SM2 verify")
        try:
            _check(crypto.EVP_PKEY_verify_init(context), "SM2 verify")
            result = crypto.EVP_PKEY_verify(context, signature, len(signature), digest, 32)
        finally:
            crypto.EVP_PKEY_CTX_free(context)
    return bool(result == 1)


def _cipher(key: PKey, data: bytes, *, encrypt: bool) -> bytes:
    crypto = lib()
    what = "SM2 encrypt" if encrypt else "SM2 decrypt"
    init = crypto.EVP_PKEY_encrypt_init if encrypt else crypto.EVP_PKEY_decrypt_init
    run = crypto.EVP_PKEY_encrypt if encrypt else crypto.EVP_PKEY_decrypt
    with _errors():
        context = crypto.EVP_PKEY_CTX_new_from_pkey(None, key.pointer, None)
        if not context:
            raise _fail(what)
        try:
            _check(init(context), what)
            length = _size(0)
            _check(run(context, None, ctypes.byref(length), data, len(data)), what)
            if length.value > MAX_CIPHERTEXT:
                raise OpenSSLFailure(f"{what}: output too long")
            buffer = ctypes.create_string_buffer(max(length.value, 1))
            _check(run(context, buffer, ctypes.byref(length), data, len(data)), what)
        finally:
            crypto.EVP_PKEY_CTX_free(context)
    return buffer.raw[: length.value]


def encrypt(key: PKey, plaintext: bytes) -> bytes:
    """GM/T 0009 DER ciphertext ``SEQUENCE {x, y, C3 hash, C2}`` (SM3 as the hash)."""
    plaintext = _bounded(plaintext, MAX_PLAINTEXT, "plaintext")
    if not plaintext:
        raise OpenSSLFailure("SM2 encrypt: empty plaintext")
    return _cipher(key, plaintext, encrypt=True)


def decrypt(key: PKey, ciphertext: bytes) -> bytes:
    """Decrypt a DER ciphertext; OpenSSL checks C1 is on the curve and C3 matches."""
    if not key.private:
        raise OpenSSLFailure("decryption needs a private key")
    ciphertext = _bounded(ciphertext, MAX_CIPHERTEXT, "ciphertext")
    return _cipher(key, ciphertext, encrypt=False)
