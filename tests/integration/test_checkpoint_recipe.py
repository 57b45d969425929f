"""A partner verifies a checkpoint from the published documents alone.

`contracts/audit-checkpoints.md` is the recipe. This test follows it with
`cryptography`, `hashlib` and `json` only, never the gateway's own checkpoint code:
on the document's worked example, with the document's own code snippet, and on a
checkpoint fetched from a running gateway over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.app import STORE
from gateway.app_keys import AUDIT

RECIPE = Path(__file__).resolve().parents[2] / "contracts" / "audit-checkpoints.md"


def fenced(info: str) -> str:
    """The body of the fenced block in the recipe whose info string is `info`."""
    match = re.search(rf"^```{re.escape(info)}\n(.*?)^```$", RECIPE.read_text("utf-8"), re.S | re.M)
    assert match is not None, f"no ```{info} block in {RECIPE.name}"
    return match.group(1)


def signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    """Step 2: six labelled lines, each ending in a line feed, UTF-8."""
    assert checkpoint["format"] == "tongban-audit-checkpoint/v1"
    assert re.fullmatch(r"[0-9a-f]{64}", checkpoint["root_hash"])
    lines = [
        "tongban-audit-checkpoint/v1",
        f"origin {checkpoint['origin']}",
        f"size {int(checkpoint['tree_size'])}",
        f"root {checkpoint['root_hash']}",
        f"time {checkpoint['time']}",
        f"key {checkpoint['key_id']}",
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def thumbprint(jwk: dict[str, str]) -> str:
    """Step 3: RFC 7638 over crv, kty, x, no whitespace; SHA-256; base64url unpadded."""
    text = '{"crv":"' + jwk["crv"] + '","kty":"' + jwk["kty"] + '","x":"' + jwk["x"] + '"}'
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def verify(checkpoint: dict[str, Any], jwks: dict[str, Any]) -> None:
    """Steps 3 and 4; raises `InvalidSignature` or `LookupError`."""
    (jwk,) = [
        k for k in jwks["keys"] if k.get("kty") == "OKP" and thumbprint(k) == checkpoint["key_id"]
    ]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    signature = base64.b64decode(checkpoint["signature"], validate=True)
    assert (len(raw), len(signature)) == (32, 64)
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, signed_bytes(checkpoint))


def test_the_worked_example_verifies_by_the_recipe() -> None:
    checkpoint = json.loads(fenced("json checkpoint-example"))
    jwks = json.loads(fenced("json jwks-example"))
    shown = bytes.fromhex("".join(fenced("text signed-bytes-example").split()))
    assert signed_bytes(checkpoint) == shown
    verify(checkpoint, jwks)
    with pytest.raises(InvalidSignature):
        verify({**checkpoint, "tree_size": checkpoint["tree_size"] + 1}, jwks)


def test_the_recipes_own_code_verifies_the_example() -> None:
    namespace: dict[str, Any] = {}
    exec(fenced("python"), namespace)  # noqa: S102 - our own published snippet
    checkpoint = json.loads(fenced("json checkpoint-example"))
    jwks = json.loads(fenced("json jwks-example"))
    namespace["verify_checkpoint"](checkpoint, jwks)
    with pytest.raises(InvalidSignature):
        namespace["verify_checkpoint"]({**checkpoint, "time": "2026-12-03T08:00:01.000000Z"}, jwks)


async def test_a_live_checkpoint_verifies_by_the_recipe(client: TestClient[Any, Any]) -> None:
    app = client.app
    for i in range(7):
        async with app[STORE].transaction() as conn:
            await app[AUDIT].log.append(conn, kind="test.appended", actor="system", data={"i": i})
    await app[AUDIT].sealer.seal()
    checkpoint = await (await client.get("/v1/audit/checkpoints/latest")).json()
    jwks = await (await client.get("/v1/audit/keys")).json(content_type=None)
    assert checkpoint["tree_size"] == 7
    assert re.fullmatch(r"tongban:[0-9a-f]{32}", checkpoint["origin"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", checkpoint["time"])
    verify(checkpoint, jwks)
    forged_root = ("0" if checkpoint["root_hash"][0] != "0" else "1") + checkpoint["root_hash"][1:]
    with pytest.raises(InvalidSignature):
        verify({**checkpoint, "root_hash": forged_root}, jwks)
