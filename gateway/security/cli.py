"""``tongban keys ...`` (gateway signing keys) and ``tongban partner ...`` (reference client)."""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import click

from gateway.audit.service import checkpoint_key_path
from gateway.cli_support import config_option
from gateway.config import load_settings
from gateway.errors import TongbanError
from gateway.security import at_rest
from gateway.security.client import (
    Reply,
    get_application,
    load_partner_key,
    submit,
    upload_attachment,
)
from gateway.security.keys import KeyRing
from gateway.security.outbound import RequestSigner
from gateway.security.partner_summary import application_summary
from gateway.security.pii import RING_PURPOSE, ring_path
from gateway.security.sm2 import SM2PublicKey
from gateway.security.sm2_keys import SM2KeyRing
from gateway.security.wiring import key_passphrase, key_store, sm2_key_store

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_alg_option = click.option(
    "--alg",
    type=click.Choice(["ed25519", "sm2"]),
    default="ed25519",
    show_default=True,
    help="Which key ring: Ed25519 (default) or SM2 (where a region requires 国密).",
)


def _ring_document(ring: KeyRing | SM2KeyRing, grace: timedelta) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "active": ring.active_kid,
        "keys": [
            {
                "kid": key.kid,
                "created_at": key.created_at.isoformat(),
                "retired_at": key.retired_at.isoformat() if key.retired_at else None,
                "published": key.published(now, grace),
            }
            for key in ring.keys
        ],
        "jwks": ring.jwks(now, grace),
    }


def _print_ring(ring: KeyRing | SM2KeyRing, grace: timedelta, as_json: bool) -> None:
    document = _ring_document(ring, grace)
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    for key in document["keys"]:
        state = "active" if key["kid"] == ring.active_kid else "retired"
        if state == "retired":
            state += f" {key['retired_at']}" + (", published" if key["published"] else "")
        click.echo(f"{key['kid']}  created {key['created_at']}  {state}")


def _key_command(
    action: str, config: Path | None, as_json: bool, alg: str = "ed25519", pem: bool = False
) -> None:
    try:
        settings = load_settings(config)
        store = sm2_key_store(settings) if alg == "sm2" else key_store(settings)
        grace = timedelta(days=settings.security.key_grace_days)
        if action == "generate":
            ring = store.generate()
        elif action == "rotate":
            ring = store.rotate(grace)
        else:
            ring = store.load_ring()
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if pem:
        public = ring.active.public_key
        if not isinstance(public, SM2PublicKey):
            raise click.UsageError("--pem is for the SM2 key (--alg sm2)")
        click.echo(public.to_pem().decode("ascii"), nl=False)
        return
    _print_ring(ring, grace, as_json)


@click.group("keys")
def keys() -> None:
    """The gateway's signing keys, Ed25519 or SM2 (passphrase: TONGBAN_SECURITY__KEY_PASSPHRASE)."""


@keys.command()
@config_option
@_json_option
@_alg_option
def generate(config: Path | None, as_json: bool, alg: str) -> None:
    """Create the first key of --alg (refused if that key ring exists)."""
    _key_command("generate", config, as_json, alg)


@keys.command()
@config_option
@_json_option
@_alg_option
@click.option("--pem", is_flag=True, help="SM2: print the active public key as PEM (SPKI).")
def show(config: Path | None, as_json: bool, alg: str, pem: bool) -> None:
    """List the keys, which one signs, and which are published."""
    _key_command("show", config, as_json, alg, pem)


@keys.command()
@config_option
@_json_option
@_alg_option
def rotate(config: Path | None, as_json: bool, alg: str) -> None:
    """Make a new key active; the old one stays published for security.key_grace_days."""
    _key_command("rotate", config, as_json, alg)


@keys.command("encrypt-at-rest")
@config_option
def encrypt_at_rest(config: Path | None) -> None:
    """Encrypt an older install's plaintext checkpoint key and PII key ring in place.

    Uses the key passphrase (TONGBAN_SECURITY__KEY_PASSPHRASE); files already
    encrypted are left as they are. Stop the gateway first.
    """
    try:
        settings = load_settings(config)
        passphrase = key_passphrase(settings)
        files = {checkpoint_key_path(settings): None, ring_path(settings.data_dir): RING_PURPOSE}
        for path, purpose in files.items():
            if not path.exists():
                click.echo(f"{path}: absent (created encrypted when first needed)")
            elif at_rest.encrypt_in_place(path, passphrase, purpose=purpose):
                click.echo(f"{path}: encrypted")
            else:
                click.echo(f"{path}: already encrypted")
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        "Old backups still hold these keys in the clear: replace them with new backups.", err=True
    )


@click.group("partner")
def partner() -> None:
    """The reference partner client: signs requests exactly as a partner should."""


def _base_url(_context: click.Context, _param: click.Parameter, value: str) -> str:
    """Refuse a URL without http:// or https:// here, not later as an odd request error."""
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    if "://" not in value:
        raise click.BadParameter(
            f"the scheme is missing: write http://{value} (or https://{value})"
        )
    raise click.BadParameter(f"{value} is not an http:// or https:// URL")


_partner_options = [
    click.option(
        "--url",
        required=True,
        callback=_base_url,
        help="The gateway's base URL, e.g. https://gw.example",
    ),
    click.option(
        "--key",
        "key_path",
        required=True,
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="The partner's Ed25519 or SM2 private key (PKCS#8 PEM).",
    ),
    click.option("--key-id", "key_id", required=True, help="The keyid the gateway knows it by."),
    click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="File holding the key's passphrase, if the PEM is encrypted.",
    ),
]


def _with_partner_options(function: Any) -> Any:
    for option in reversed(_partner_options):
        function = option(function)
    return function


def _signer(key_path: Path, key_id: str, passphrase_file: Path | None) -> RequestSigner:
    passphrase = passphrase_file.read_text(encoding="utf-8").strip() if passphrase_file else None
    try:
        return RequestSigner(load_partner_key(key_path, passphrase), key_id)
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc


def _status_line(reply: Reply) -> str:
    """``HTTP 202 Accepted``."""
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP {reply.status} {phrase}".rstrip()


def _show(reply: Reply, summary: Callable[[dict[str, Any]], str] | None = None) -> None:
    """Print the reply's body (JSON as is, or `summary` of it); fail on an error status."""
    if not reply.ok or summary is None or not isinstance(reply.body, dict):
        text = (
            reply.body
            if isinstance(reply.body, str)
            else json.dumps(reply.body, indent=2, ensure_ascii=False)
        )
    else:
        text = summary(reply.body)
    click.echo(text)
    if not reply.ok:
        raise click.ClickException(f"the gateway answered {_status_line(reply)}")


@partner.command("submit")
@_with_partner_options
@click.option("--idempotency-key", help="Reuse to retry safely; default: a new UUID.")
@click.option(
    "--attach",
    "attachments",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file the application references by SHA-256; uploaded first. Repeatable.",
)
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def submit_command(
    url: str,
    key_path: Path,
    key_id: str,
    passphrase_file: Path | None,
    idempotency_key: str | None,
    attachments: tuple[Path, ...],
    file: Path,
) -> None:
    """Submit the application in FILE (JSON), signed, after uploading its --attach files."""
    body = file.read_bytes()
    try:
        json.loads(body)
    except ValueError as exc:
        raise click.ClickException(f"{file} is not JSON: {exc}") from exc
    signer = _signer(key_path, key_id, passphrase_file)
    files = [(path, path.read_bytes(), _media_type(path)) for path in attachments]

    async def run() -> Reply:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for path, content, media_type in files:
                uploaded = await upload_attachment(
                    url, signer, content, media_type, session=session
                )
                if not uploaded.ok:
                    _show(uploaded)
                click.echo(f"uploaded {path.name}: {uploaded.body['digest']}", err=True)
            return await submit(url, signer, body, idempotency_key=idempotency_key, session=session)

    try:
        reply = asyncio.run(run())
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    # The status on stderr, so stdout stays the JSON answer (receipt) a script reads.
    click.echo(_status_line(reply), err=True)
    _show(reply)


def _media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        raise click.ClickException(f"cannot tell the media type of {path.name} from its name")
    return guessed


@partner.command("get")
@_with_partner_options
@_json_option
@click.argument("application_id")
def get_command(
    url: str,
    key_path: Path,
    key_id: str,
    passphrase_file: Path | None,
    as_json: bool,
    application_id: str,
) -> None:
    """Show application APPLICATION_ID: its status, region case, due dates and
    history, signed; --json prints the gateway's whole answer."""
    signer = _signer(key_path, key_id, passphrase_file)
    try:
        reply = asyncio.run(get_application(url, signer, application_id))
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    _show(reply, None if as_json else application_summary)
