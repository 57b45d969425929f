"""Audit REST routes: the latest signed checkpoint, inclusion and consistency proofs,
and the checkpoint signing keys.

Proofs are given against signed checkpoints only: an inclusion proof for an
entry not yet covered by a checkpoint is a 404 (retry after the next one), since
a proof against an unsigned root would prove nothing to its holder.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.problems import Problem
from gateway.audit.checkpoints import Checkpoint
from gateway.audit.sealer import latest_checkpoint
from gateway.audit.service import AUDIT
from gateway.store import Store

routes = web.RouteTableDef()


def _store(request: web.Request) -> Store:
    return request.app[AUDIT].store


def _integer(name: str, raw: str | None, *, minimum: int) -> int:
    if raw is None:
        raise Problem(422, "Invalid parameter", f"{name} is required", type_="invalid-parameter",
                      errors=[{"field": name, "message": "required"}])  # fmt: skip
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < minimum:
        raise Problem(
            422,
            "Invalid parameter",
            f"{name} must be an integer >= {minimum}",
            type_="invalid-parameter",
            errors=[{"field": name, "message": f"must be an integer >= {minimum}"}],
        )
    return int(raw)


async def _latest(request: web.Request) -> Checkpoint:
    async with _store(request).transaction() as conn:
        checkpoint = await latest_checkpoint(conn)
    if checkpoint is None:
        raise Problem(404, "No checkpoint yet", "The audit log has no signed checkpoint yet.",
                      type_="audit-no-checkpoint")  # fmt: skip
    return checkpoint


async def _checkpoint_of_size(request: web.Request, size: int) -> Checkpoint:
    async with _store(request).transaction() as conn:
        row = await conn.fetch_one(
            "SELECT * FROM audit_checkpoints WHERE tree_size = :size", {"size": size}
        )
    if row is None:
        raise Problem(404, "No such checkpoint", f"There is no checkpoint of size {size}.",
                      type_="audit-no-checkpoint")  # fmt: skip
    return Checkpoint.from_row(row)


@routes.get("/v1/audit/keys")
async def keys(request: web.Request) -> web.Response:
    """The public keys checkpoints are signed with, as a JWK Set (RFC 7517 / RFC 8037).

    With them, the holder of a receipt checks a checkpoint's signature offline.
    """
    return web.json_response(
        {"keys": request.app[AUDIT].jwks},
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@routes.get("/v1/audit/checkpoints/latest")
async def latest(request: web.Request) -> web.Response:
    """The latest signed checkpoint."""
    return web.json_response((await _latest(request)).to_json())


@routes.get("/v1/audit/proofs/{seq}")
async def inclusion(request: web.Request) -> web.Response:
    """The inclusion proof of entry `seq`, against the latest (or ``tree_size``) checkpoint."""
    seq = _integer("seq", request.match_info["seq"], minimum=0)
    size_param = request.query.get("tree_size")
    if size_param is None:
        checkpoint = await _latest(request)
    else:
        checkpoint = await _checkpoint_of_size(
            request, _integer("tree_size", size_param, minimum=1)
        )
    if seq >= checkpoint.tree_size:
        raise Problem(
            404,
            "Entry not covered",
            f"Entry {seq} is not covered by checkpoint {checkpoint.tree_size}; it may not "
            "exist yet, or the next checkpoint will cover it.",
            type_="audit-not-covered",
        )
    service = request.app[AUDIT]
    path = await service.proofs.inclusion(seq, checkpoint.tree_size)
    async with _store(request).transaction() as conn:
        row = await conn.fetch_one(
            "SELECT leaf_hash FROM audit_entries WHERE seq = :seq", {"seq": seq}
        )
    body: dict[str, Any] = {
        "seq": seq,
        "leaf_hash": None if row is None else bytes(row["leaf_hash"]).hex(),
        "tree_size": checkpoint.tree_size,
        "path": [h.hex() for h in path],
        "checkpoint": checkpoint.to_json(),
    }
    return web.json_response(body)


@routes.get("/v1/audit/consistency")
async def consistency(request: web.Request) -> web.Response:
    """The proof that tree `first` is a prefix of tree `second` (``second`` signed)."""
    first = _integer("first", request.query.get("first"), minimum=1)
    second = _integer("second", request.query.get("second"), minimum=1)
    if first > second:
        raise Problem(422, "Invalid parameter", "first must not exceed second",
                      type_="invalid-parameter",
                      errors=[{"field": "first", "message": "must be <= second"}])  # fmt: skip
    latest_size = (await _latest(request)).tree_size
    if second > latest_size:
        raise Problem(
            404,
            "Size not covered",
            f"The latest checkpoint has size {latest_size}; no proof up to {second} yet.",
            type_="audit-not-covered",
        )
    path = await request.app[AUDIT].proofs.consistency(first, second)
    return web.json_response({"first": first, "second": second, "path": [h.hex() for h in path]})
