"""The ops page: dead letters in the clerk's words with replay, each region's health.

Replay goes through `replay_delivery`, the service ``tongban deliveries replay``
and ``POST /v1/ops/deliveries/{id}/replay`` use: same idempotency key, a history
event naming ``staff:<id>``, so the audit log says who replayed it. Each region
shows its breaker (from the running relay, when this process runs one), queue
depth and last successful delivery; the audit log shows its latest signed
checkpoint's age. No personal data appears here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.app_keys import APPLICATIONS, CATALOG, RELAY, STORE
from gateway.applications.relay_outcomes import ApplicationOutcomes
from gateway.console import ops_queries
from gateway.console.auth import render, session_of, staff_page
from gateway.console.catalogue import region_names
from gateway.console.menu import OPERATIONS
from gateway.relay import deliveries
from gateway.relay.replay import replay_delivery

routes = web.RouteTableDef()

_OPS = OPERATIONS
DEAD_LETTER_LIMIT = 200
_BREAKER_ZH = {"closed": "正常", "half_open": "试探恢复中", "open": "已熔断（暂停发送）"}
_KIND_ZH = {"submission": "申请", "supplement": "补正材料", "withdrawal": "撤回", "rating": "评价"}
_PEER_ZH = "对等网关（peer）"
_REPLAY_REFUSED = {
    "no such delivery": "没有这条投递",
}


def _age_zh(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "尚无"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} 秒前"
    if seconds < 3600:
        return f"{seconds // 60} 分钟前"
    if seconds < 86400:
        return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分钟前"
    return f"{seconds // 86400} 天前"


async def _page(
    request: web.Request, *, message: str | None = None, error: str | None = None, status: int = 200
) -> web.Response:
    store = request.config_dict[STORE]
    catalog = request.config_dict[CATALOG]
    names = region_names(catalog)
    now = datetime.now(UTC)
    async with store.read() as conn:
        dead = await deliveries.list_deliveries(
            conn, state=deliveries.FAILED, limit=DEAD_LETTER_LIMIT
        )
    queues = await ops_queries.queues(store)
    relay = request.config_dict.get(RELAY)
    lanes = relay.lanes if relay is not None else {}
    regions: list[dict[str, Any]] = []
    for region in sorted({*catalog.regions, *queues, *lanes}):
        queue = queues.get(region, ops_queries.RegionQueue())
        lane = lanes.get(region)
        breaker = lane.breaker.state.value if lane is not None else None
        regions.append(
            {
                "key": region,
                "name": names.get(region, _PEER_ZH if region == "peer" else region),
                "breaker": breaker,
                "breaker_zh": _BREAKER_ZH.get(breaker or "", "本进程未运行转发"),
                "pending": queue.pending,
                "in_flight": queue.in_flight,
                "failed": queue.failed,
                "last_success": queue.last_success,
                "last_success_age": _age_zh(queue.last_success, now),
            }
        )
    checkpoint = await ops_queries.checkpoint(store)
    letters = [
        {
            **row,
            "region_name": names.get(row["region"], row["region"]),
            "kind_zh": _KIND_ZH.get(row["kind"], row["kind"]),
            "reason": row["dead_reason_zh"] or "原因未记录",
        }
        for row in dead
    ]
    return render(
        "ops.html",
        request,
        {
            "letters": letters,
            "regions": regions,
            "checkpoint": checkpoint,
            "checkpoint_age": _age_zh(checkpoint.time, now),
            "unsealed": checkpoint.entries - (checkpoint.tree_size or 0),
            "csrf_token": session_of(request).csrf_token,
            "message": message,
            "error": error,
        },
        status=status,
    )


@routes.get("/ops")
@staff_page(*_OPS)
async def ops_home(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@routes.post("/ops/deliveries/{id}/replay")
@staff_page(*_OPS)
async def replay(request: web.Request) -> web.StreamResponse:
    result = await replay_delivery(
        request.config_dict[STORE],
        request.match_info["id"],
        actor=session_of(request).account.actor,
        listener=ApplicationOutcomes(request.config_dict[APPLICATIONS].journal),
    )
    if not result.replayed:
        reason = result.reason or ""
        words = _REPLAY_REFUSED.get(reason, "这条投递已不是死信（可能已被重放或已送达），无需重放")
        return await _page(request, error=words, status=404 if "no such" in reason else 409)
    relay = request.config_dict.get(RELAY)
    if relay is not None:
        relay.wake()
    raise web.HTTPSeeOther(f"/console/ops?replayed={result.delivery_id}")
