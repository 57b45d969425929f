"""Audit REST routes: the latest signed checkpoint, inclusion and consistency proofs,
and the checkpoint signing keys.

Proofs are given against signed checkpoints only: an inclusion proof for an
entry not yet covered by a checkpoint is a 404 (retry after the next one), since
a proof against an unsigned root would prove nothing to its holder.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.params import whole_number
from gateway.api.problems import Problem
from gateway.api.responses import json_response
from gateway.audit.checkpoints import Checkpoint
from gateway.audit.sealer import latest_checkpoint
from gateway.audit.service import AUDIT
from gateway.store import Store

routes = web.RouteTableDef()


def _store(request: web.Request) -> Store:
    return request.app[AUDIT].store


def _integer(name: str, raw: str | None, *, minimum: int) -> int:
    if raw is None:
        raise Problem(422, "Invalid parameter", f"缺少参数 {name}", type_="invalid-parameter",
                      errors=[{"field": name, "message": "必填"}])  # fmt: skip
    try:
        return whole_number(raw, low=minimum)
    except ValueError:
        message = f"应为不小于 {minimum} 的整数"
        raise Problem(
            422,
            "Invalid parameter",
            f"{name} {message}",
            type_="invalid-parameter",
            errors=[{"field": name, "message": message}],
        ) from None


async def _latest(request: web.Request) -> Checkpoint:
    async with _store(request).read() as conn:
        checkpoint = await latest_checkpoint(conn)
    if checkpoint is None:
        raise Problem(404, "No checkpoint yet", "审计日志还没有签名检查点",
                      type_="audit-no-checkpoint")  # fmt: skip
    return checkpoint


async def _checkpoint_of_size(request: web.Request, size: int) -> Checkpoint:
    async with _store(request).read() as conn:
        row = await conn.fetch_one(
            "SELECT * FROM audit_checkpoints WHERE tree_size = :size", {"size": size}
        )
    if row is None:
        raise Problem(404, "No such checkpoint", f"没有大小为 {size} 的检查点",
                      type_="audit-no-checkpoint")  # fmt: skip
    return Checkpoint.from_row(row)


@routes.get("/v1/audit/keys")
async def keys(request: web.Request) -> web.Response:
    """The public keys checkpoints are signed with, as a JWK Set (RFC 7517 / RFC 8037).

    With them, the holder of a receipt checks a checkpoint's signature offline.
    """
    return json_response(
        {"keys": request.app[AUDIT].jwks},
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@routes.get("/v1/audit/checkpoints/latest")
async def latest(request: web.Request) -> web.Response:
    """The latest signed checkpoint."""
    return json_response((await _latest(request)).to_json())


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
            f"第 {seq} 条记录不在检查点 {checkpoint.tree_size} 之内：可能尚不存在，"
            "或将由下一个检查点覆盖",
            type_="audit-not-covered",
        )
    service = request.app[AUDIT]
    path = await service.proofs.inclusion(seq, checkpoint.tree_size)
    async with _store(request).read() as conn:
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
    return json_response(body)


@routes.get("/v1/audit/consistency")
async def consistency(request: web.Request) -> web.Response:
    """The proof that tree `first` is a prefix of tree `second` (``second`` signed)."""
    first = _integer("first", request.query.get("first"), minimum=1)
    second = _integer("second", request.query.get("second"), minimum=1)
    if first > second:
        raise Problem(422, "Invalid parameter", "first 不得大于 second",
                      type_="invalid-parameter",
                      errors=[{"field": "first", "message": "不得大于 second"}])  # fmt: skip
    latest_size = (await _latest(request)).tree_size
    if second > latest_size:
        raise Problem(
            404,
            "Size not covered",
            f"最新检查点的大小为 {latest_size}，尚无到 {second} 的证明",
            type_="audit-not-covered",
        )
    path = await request.app[AUDIT].proofs.consistency(first, second)
    return json_response({"first": first, "second": second, "path": [h.hex() for h in path]})
