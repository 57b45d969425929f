"""`tongban demo`'s security set-up: gateway keys and a demo partner, under the data dir.

Everything here is for a demo on one machine: the key passphrase is generated and
kept in a file next to the keys, and the demo partner's private key is stored
unencrypted so the printed command runs as is. Production keys are made with
``tongban keys generate`` and a passphrase from the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.security.client import load_partner_key
from gateway.security.keys import KeyStore, b64url, raw_public, thumbprint, write_private_file

DEMO_PARTNER = "demo-partner"


# A real catalogue item (Shenzhen, from its published guide) with three required
# materials, each a file; its applicant is the standard GB 11643 sample number.
DEMO_ITEM = "11440300MB2D0970524440125044003"  # 个体工商户注销登记
_DEMO_MATERIALS = {
    "material_1": "个体工商户登记（备案）申请书",
    "material_2": "清税证明材料",
    "material_4": "经办人身份证明复印件",
}


def write_demo_application(partner_dir: Path) -> tuple[Path, list[Path]]:
    """Write the demo application and its attachment files (rewritten on every start).

    The application is valid for `DEMO_ITEM` in the shipped catalogue; it lists each
    file by SHA-256, so ``tongban partner submit --attach ...`` uploads them first.
    Returns the application file and the attachment files.
    """
    files_dir = partner_dir / "attachments"
    files_dir.mkdir(parents=True, exist_ok=True)
    materials = []
    attachments = []
    for material_id, name in _DEMO_MATERIALS.items():
        content = (
            f"%PDF-1.4\n% Tongban demo attachment: {name} (not a real document)\n%%EOF\n"
        ).encode()
        path = files_dir / f"{material_id}.pdf"
        path.write_bytes(content)
        attachments.append(path)
        materials.append(
            {"material_id": material_id, "attachments": [hashlib.sha256(content).hexdigest()]}
        )
    document = {
        "item_code": DEMO_ITEM,
        "receiving_region": "dongguan",
        "channel": "window",
        "handling_mode": "full_online",
        "applicant": {
            "kind": "person",
            "name": "张三",
            "id_type": "resident_id",
            "id_number": "11010519491231002X",
        },
        "phone": "13800138000",
        "delivery": {"method": "window_pickup"},
        "materials": materials,
        "remarks": "示例申请（tongban demo），非真实办件",
    }
    example = partner_dir / "application.example.json"
    example.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return example, attachments


def prepare_demo_security(data_dir: Path, port: int) -> dict[str, Any]:
    """Create (once) the gateway key ring and a demo partner; return settings overrides.

    The overrides (for the ``security`` section) set the demo key passphrase and
    register the demo partner, allowed every item. Writes a valid example
    application with its files; `submit_command` says how to send it.
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
    write_demo_application(partner_dir)
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


def submit_command(data_dir: Path, port: int, program: str) -> str:
    """The shell command that uploads and submits the demo application as the demo partner.

    `program` is how to run ``tongban`` (see `running_program`); paths are as given
    in `data_dir`, so the command works from the directory the demo was started in.
    """
    partner_dir = data_dir / DEMO_PARTNER
    key_file = partner_dir / "private-key.pem"
    keyid = thumbprint(load_partner_key(key_file).public_key())
    attachments = sorted((partner_dir / "attachments").glob("*.pdf"))
    words = [
        "partner", "submit", "--url", f"http://127.0.0.1:{port}",
        "--key", str(key_file), "--key-id", keyid,
        *(part for path in attachments for part in ("--attach", str(path))),
        str(partner_dir / "application.example.json"),
    ]  # fmt: skip
    return f"{program} {shlex.join(words)}"


def running_program() -> str:
    """How to run the ``tongban`` that is running now, as a shell command that works as is.

    The console script when this process is one (``.venv/bin/tongban``), else the one
    installed beside this Python (a venv's ``bin``), else ``python -m gateway.cli``:
    never a bare ``tongban``, which works only while the venv is active. Relative to
    the working directory when inside it, so it reads as the README's commands do.
    """
    launched = Path(sys.argv[0])
    beside_python = Path(sys.executable).parent / "tongban"
    if launched.name == "tongban" and launched.is_file():
        return shlex.quote(_shown(launched))
    if beside_python.is_file():
        return shlex.quote(_shown(beside_python))
    return f"{shlex.quote(sys.executable)} -m gateway.cli"


def _shown(path: Path) -> str:
    absolute = Path(os.path.abspath(path))  # not resolve(): a venv's python is a symlink
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    # A bare name would be looked up on PATH, which is what must not happen.
    return str(relative) if len(relative.parts) > 1 else f"./{relative}"
