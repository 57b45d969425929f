"""``GET /v1/audit/witness``: the peers' checkpoints we witnessed, cosigned by us.

For each peer, the last checkpoint of its log we found consistent, in the form
``tongban audit checkpoint --save`` writes (the checkpoint, the keys it verified
with, when it was saved), plus our ``cosignature``: an Ed25519 signature, by this
gateway's active key (published in our JWKS), over the bytes
``tongban-witness-cosignature/v1\\n`` followed by the checkpoint's signed bytes.

``?peer=NAME`` answers that one document, so a peer's operator can run
``tongban audit verify --trusted https://us/v1/audit/witness?peer=NAME`` against
their own log: a log rewritten since we saw it fails, naming where.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from gateway.app_keys import GATEWAY_KEYS, WITNESS
from gateway.audit.checkpoints import Checkpoint
from gateway.errors import KeyStoreError
from gateway.http.responses import json_response
from gateway.problems import Problem
from gateway.security.jwks import GatewayKeys

COSIGNATURE_PREFIX = b"tongban-witness-cosignature/v1\n"

routes = web.RouteTableDef()


def cosign(document: dict[str, Any], keys: GatewayKeys) -> dict[str, Any]:
    """`document` (a kept checkpoint) with our cosignature, when we can sign."""
    if keys.ring is None or keys.private_key is None:
        raise KeyStoreError("the gateway cannot sign: no key ring, or no key passphrase")
    checkpoint = Checkpoint.from_json(document)
    signature = keys.private_key.sign(COSIGNATURE_PREFIX + checkpoint.signed_bytes())
    return {
        **document,
        "cosignature": {
            "keyid": keys.ring.active_kid,
            "alg": "EdDSA",
            "signature": base64.b64encode(signature).decode("ascii"),
        },
    }


@routes.get("/v1/audit/witness")
async def witnessed(request: web.Request) -> web.Response:
    witness = request.app.get(WITNESS)
    peers = list(witness.peers) if witness is not None else []
    wanted = request.query.get("peer")
    if wanted is not None and wanted not in peers:
        raise Problem(
            404, "Unknown peer", f"本网关不见证 {wanted} 的审计日志", type_="peer-not-found"
        )
    keys = request.app[GATEWAY_KEYS]
    documents: dict[str, Any] = {}
    for peer_id in [wanted] if wanted is not None else peers:
        assert witness is not None  # noqa: S101 - peers is empty without one
        kept = await witness.kept_document(peer_id)
        try:
            documents[peer_id] = None if kept is None else cosign(kept, keys)
        except KeyStoreError as exc:
            raise Problem(503, "Cannot cosign", "本网关暂时无法签名", type_="cannot-sign") from exc
    if wanted is not None:
        if documents[wanted] is None:
            raise Problem(
                404, "Nothing witnessed yet", f"尚未取得 {wanted} 的检查点", type_="not-witnessed"
            )
        return json_response(documents[wanted])
    return json_response(
        {"peers": documents, "problems": dict(witness.problems) if witness else {}}
    )
