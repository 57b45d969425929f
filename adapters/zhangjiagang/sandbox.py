"""A stand-in for Zhangjiagang's 国密 API (contracts/regions/zhangjiagang.md).

Checks each wrapper's HMAC-SM3 and freshness and refuses bad ones (100001/100003),
decrypts with SM4, deduplicates by ``bizSerialNo``, answers with sealed data, and
pushes status changes, sealed the same way, to its configured callback URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from adapters.base import json_bytes
from adapters.sandbox import (
    CaseEvent,
    Pusher,
    SandboxCase,
    SandboxCore,
    SandboxError,
    SandboxOptions,
    decide,
    log,
    sandbox_app,
)
from adapters.zhangjiagang import protocol

_ERROR_CODES = {"invalid": "200001", "not_found": "200004", "conflict": "200005"}


def _error(code: str, message: str | None = None, status: int = 200) -> web.Response:
    body = {"retCode": code, "retMsg": message or protocol.ERRORS[code]}
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def create_sandbox(options: SandboxOptions, credentials: Mapping[str, str]) -> web.Application:
    """The Zhangjiagang sandbox; ``credentials``: ``app_id``, ``sm4_key``, ``mac_key``."""
    app_id, sm4_key, mac_key = (
        credentials["app_id"],
        credentials["sm4_key"],
        credentials["mac_key"],
    )
    pusher = Pusher()
    nonces: set[str] = set()

    def sealed(payload: Any) -> web.Response:
        wrapper = protocol.seal(app_id, sm4_key, mac_key, payload)
        body = {"retCode": protocol.OK, "retMsg": "成功", **wrapper}
        return web.Response(body=json_bytes(body), content_type="application/json")

    async def push(case: SandboxCase, event: CaseEvent) -> None:
        if not options.callback_url:
            return
        payload = {
            "eventId": f"{case.case_no}-{event.seq}",
            "caseNo": case.case_no,
            "bizSerialNo": case.idempotency_key,
            "applyNo": case.application_id,
            "status": protocol.CODE_OF_STATUS[event.status],
            "statusTime": event.at.isoformat(),
            "opinion": event.message,
            "missingMaterials": list(event.missing),
            "certNo": f"ZJGZ-{case.case_no}" if event.status.value == "approved" else None,
        }
        raw = json_bytes(protocol.seal(app_id, sm4_key, mac_key, payload))
        answer = await pusher.post(options.callback_url, raw, {"Content-Type": "application/json"})
        if answer is not None and json.loads(answer).get("retCode") != protocol.OK:
            log.warning("sandbox.push_not_acknowledged", case_no=case.case_no)

    core = SandboxCore("ZJG320582", options, push)
    routes = web.RouteTableDef()

    async def opened(request: web.Request) -> dict[str, Any] | web.Response:
        try:
            wrapper = json.loads(await request.read())
            if not isinstance(wrapper, dict):
                raise TypeError("not an object")
        except (ValueError, TypeError):
            return _error("200001", "报文不是合法 JSON")
        try:
            data = protocol.open_sealed(app_id, sm4_key, mac_key, wrapper)
        except protocol.ProtocolError as exc:
            return _error(exc.code)
        nonce = str(wrapper.get("nonce"))
        if nonce in nonces:
            return _error("100003")
        nonces.add(nonce)
        if not isinstance(data, dict) or not data.get("bizSerialNo"):
            return _error("200001", "缺少 bizSerialNo")
        return data

    @routes.post(protocol.PATHS["submission"])
    async def submit(request: web.Request) -> web.Response:
        data = await opened(request)
        if isinstance(data, web.Response):
            return data
        try:
            materials = {m["materialId"]: bool(m["provided"]) for m in data["materials"]}
            applicant = data["applicant"]
            review = decide(materials, applicant["certType"], applicant["certNo"], data["form"])
            if not data["itemCode"]:
                raise ValueError("itemCode 不能为空")
        except (KeyError, TypeError, ValueError) as exc:
            return _error("200001", f"参数校验失败: {exc}")
        case, duplicate = core.submit(data["bizSerialNo"], data.get("applyNo"), review)
        return sealed({"caseNo": case.case_no, "duplicate": duplicate})

    async def followup(request: web.Request, action: str) -> web.Response:
        data = await opened(request)
        if isinstance(data, web.Response):
            return data
        case_no = str(data.get("caseNo", ""))
        try:
            if action == "supplement":
                ids = [m["materialId"] for m in data.get("materials", [])]
                core.supplement(case_no, data["bizSerialNo"], ids)
            elif action == "withdraw":
                await core.withdraw(case_no, data["bizSerialNo"])
            else:
                core.rate(case_no, data["bizSerialNo"], int(data["level"]))
        except SandboxError as exc:
            return _error(_ERROR_CODES[exc.kind], exc.message)
        except (KeyError, TypeError, ValueError) as exc:
            return _error("200001", f"参数校验失败: {exc}")
        return sealed({"caseNo": case_no})

    @routes.post(protocol.PATHS["supplement"])
    async def supplement(request: web.Request) -> web.Response:
        return await followup(request, "supplement")

    @routes.post(protocol.PATHS["withdrawal"])
    async def withdraw(request: web.Request) -> web.Response:
        return await followup(request, "withdraw")

    @routes.post(protocol.PATHS["rating"])
    async def rate(request: web.Request) -> web.Response:
        return await followup(request, "rate")

    @routes.get(protocol.HEARTBEAT_PATH)
    async def heartbeat(request: web.Request) -> web.Response:
        return web.json_response({"retCode": protocol.OK, "retMsg": "成功"})

    def transient(message: str) -> web.Response:
        response = _error("300002", message, status=503)
        response.headers["Retry-After"] = "1"
        return response

    return sandbox_app(core, routes, transient, pusher)
