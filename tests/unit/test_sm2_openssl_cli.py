"""Interop with the ``openssl`` command line, both ways: signatures and envelopes.

The CLI computes Z_A with an *empty* ID unless given
``distid:1234567812345678``; one test pins that trap down.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.errors import InvalidSignature
from gateway.security.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
DISTID = f"distid:{DEFAULT_ID.decode()}"
MESSAGE = "申请人 张三 320582".encode()


def openssl(*args: str | Path) -> bytes:
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, *map(str, args)], capture_output=True, check=False, timeout=30
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.fixture
def cli_key(tmp_path: Path) -> tuple[Path, Path]:
    """A key pair made by the CLI: (private PEM, public PEM)."""
    private, public = tmp_path / "cli.pem", tmp_path / "cli.pub.pem"
    openssl("genpkey", "-algorithm", "SM2", "-out", private)
    openssl("pkey", "-in", private, "-pubout", "-out", public)
    return private, public


@pytest.fixture
def our_key(tmp_path: Path) -> tuple[SM2PrivateKey, Path, Path]:
    """A key pair made here, written as PEM: (key, private PEM, public PEM)."""
    key = SM2PrivateKey.generate()
    private, public = tmp_path / "ours.pem", tmp_path / "ours.pub.pem"
    private.write_bytes(key.to_pem(None))
    public.write_bytes(key.public_key().to_pem())
    return key, private, public


def test_signed_here_verified_by_openssl_dgst_and_pkeyutl(
    tmp_path: Path, our_key: tuple[SM2PrivateKey, Path, Path]
) -> None:
    key, _, public = our_key
    (tmp_path / "m").write_bytes(MESSAGE)
    (tmp_path / "s").write_bytes(key.sign(MESSAGE))
    out = openssl(
        "dgst", "-sm3", "-verify", public, "-sigopt", DISTID, "-signature", tmp_path / "s",
        tmp_path / "m",
    )  # fmt: skip
    assert b"Verified OK" in out
    out = openssl(
        "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", public,
        "-pkeyopt", DISTID, "-in", tmp_path / "m", "-sigfile", tmp_path / "s",
    )  # fmt: skip
    assert b"Signature Verified Successfully" in out


def test_signed_by_openssl_verified_here(tmp_path: Path, cli_key: tuple[Path, Path]) -> None:
    private, public = cli_key
    (tmp_path / "m").write_bytes(MESSAGE)
    openssl(
        "dgst", "-sm3", "-sign", private, "-sigopt", DISTID, "-out", tmp_path / "s", tmp_path / "m"
    )  # fmt: skip
    key = SM2PublicKey.from_pem(public.read_bytes())
    key.verify((tmp_path / "s").read_bytes(), MESSAGE)
    with pytest.raises(InvalidSignature):
        key.verify((tmp_path / "s").read_bytes(), MESSAGE + b"!")


def test_openssl_without_distid_uses_an_empty_id(
    tmp_path: Path, cli_key: tuple[Path, Path]
) -> None:
    private, public = cli_key
    (tmp_path / "m").write_bytes(MESSAGE)
    openssl("dgst", "-sm3", "-sign", private, "-out", tmp_path / "s", tmp_path / "m")
    key = SM2PublicKey.from_pem(public.read_bytes())
    with pytest.raises(InvalidSignature):
        key.verify((tmp_path / "s").read_bytes(), MESSAGE)
    key.verify((tmp_path / "s").read_bytes(), MESSAGE, distid=b"")


def test_cli_keys_load_here_and_sign_for_the_cli(
    tmp_path: Path, cli_key: tuple[Path, Path]
) -> None:
    private, public = cli_key
    key = SM2PrivateKey.from_pem(private.read_bytes())
    assert key.public_key() == SM2PublicKey.from_pem(public.read_bytes())
    (tmp_path / "m").write_bytes(MESSAGE)
    (tmp_path / "s").write_bytes(key.sign(MESSAGE, distid=b"alice@region"))
    out = openssl(
        "dgst", "-sm3", "-verify", public, "-sigopt", "distid:alice@region",
        "-signature", tmp_path / "s", tmp_path / "m",
    )  # fmt: skip
    assert b"Verified OK" in out


def test_our_encrypted_pkcs8_opens_in_openssl(
    tmp_path: Path, our_key: tuple[SM2PrivateKey, Path, Path]
) -> None:
    key, _, _public = our_key
    (tmp_path / "enc.pem").write_bytes(key.to_pem(b"correct horse"))
    out = openssl("pkey", "-in", tmp_path / "enc.pem", "-passin", "pass:correct horse", "-pubout")
    assert SM2PublicKey.from_pem(out) == key.public_key()


def test_encrypted_by_openssl_decrypted_here(tmp_path: Path, cli_key: tuple[Path, Path]) -> None:
    private, public = cli_key
    (tmp_path / "plain").write_bytes(b"0123456789abcdef")
    openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", public, "-in", tmp_path / "plain",
        "-out", tmp_path / "ct",
    )  # fmt: skip
    key = SM2PrivateKey.from_pem(private.read_bytes())
    assert key.decrypt((tmp_path / "ct").read_bytes()) == b"0123456789abcdef"


def test_encrypted_here_decrypted_by_openssl(
    tmp_path: Path, our_key: tuple[SM2PrivateKey, Path, Path]
) -> None:
    key, private, _ = our_key
    (tmp_path / "ct").write_bytes(key.public_key().encrypt(b"session key 1234"))
    out = openssl("pkeyutl", "-decrypt", "-inkey", private, "-in", tmp_path / "ct")
    assert out == b"session key 1234"
