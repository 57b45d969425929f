"""`tongban demo`'s security set-up: gateway keys and a demo partner, under the data dir.

Everything here is for a demo on one machine: the key passphrase is generated and
kept in a file next to the keys, and the demo partner's private key is stored
unencrypted so the printed command runs as is. Production keys are made with
``tongban keys generate`` and a passphrase from the environment.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.security.client import load_partner_key
from gateway.security.keys import KeyStore, b64url, raw_public, thumbprint, write_private_file

DEMO_PARTNER = "demo-partner"


def prepare_demo_security(data_dir: Path, port: int) -> dict[str, Any]:
    """Create (once) the gateway key ring and a demo partner; return settings overrides.

    The overrides (for the ``security`` section) set the demo key passphrase and
    register the demo partner, allowed every item. Prints the example command.
    """
    keys_dir = data_dir / "keys"
    passphrase_file = keys_dir / "demo-passphrase"
    if not passphrase_file.exists():
        write_private_file(passphrase_file, secrets.token_urlsafe(24).encode("ascii"))
    passphrase = passphrase_file.read_text(encoding="ascii").strip()
    store = KeyStore(keys_dir, passphrase)
    if not store.exists():
        store.generate()

    partner_dir = data_dir / DEMO_PARTNER
    key_file = partner_dir / "private-key.pem"
    if key_file.exists():
        private = load_partner_key(key_file)
    else:
        private = Ed25519PrivateKey.generate()
        write_private_file(
            key_file,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    keyid = thumbprint(private.public_key())
    example = partner_dir / "application.example.json"
    if not example.exists():
        # The shape of a submission belongs to the applications API; this is a sample.
        document = {"item_code": "demo-item", "applicant": {"kind": "person", "name": "张三"}}
        example.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
    click.echo(
        f"Demo partner {DEMO_PARTNER!r} (keyid {keyid}); submit as a partner with:\n"
        f"  tongban partner submit --url http://127.0.0.1:{port} --key {key_file} "
        f"--key-id {keyid} {example}",
        err=True,
    )
    return {
        "key_passphrase": passphrase,
        "partners": {
            DEMO_PARTNER: {
                "name": "Demo partner (示例合作方)",
                "keys": [{"keyid": keyid, "public_key": b64url(raw_public(private.public_key()))}],
                "items": ["*"],
            }
        },
    }
