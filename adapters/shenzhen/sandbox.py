"""A stand-in for Shenzhen's open platform, speaking contracts/regions/shenzhen.md.

Checks every request's sign, timestamp and nonce (refusing with 1001/1002/1003),
deduplicates submissions by ``outBizNo``, and pushes each status change, signed, to
the submission's ``notifyUrl`` (or the sandbox's callback URL), expecting
``{"code": "0000"}`` back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from adapters.base import json_bytes
from adapters.sandbox import (
    CaseEvent,
    Nonces,
    Pusher,
    SandboxCase,
    SandboxCore,
    SandboxError,
    SandboxOptions,
    add_follow_up_routes,
    json_follow_up,
    json_review,
    log,
    sandbox_app,
    sandbox_settings,
)
from adapters.shenzhen import protocol
from adapters.shenzhen.settings import ShenzhenSettings

_ERROR_CODES = {"invalid": "2001", "not_found": "2004", "conflict": "2005"}


def _answer(
    code: str, data: Mapping[str, Any] | None = None, msg: str | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "msg": msg or protocol.ERRORS.get(code, "成功")}
    if data is not None:
        body["data"] = data
    return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def create_sandbox(options: SandboxOptions, settings: Mapping[str, Any]) -> web.Application:
    """The Shenzhen sandbox app; `settings` is the ``[adapters.shenzhen]`` table (the
    appId and HMAC key it shares with the adapter)."""
    config = sandbox_settings(ShenzhenSettings, "shenzhen", settings, options)
    app_id, secret = config.app_id, config.app_secret.get_secret_value()
    pusher = Pusher()
    notify: dict[str, str] = {}
    nonces = Nonces()

    async def push(case: SandboxCase, event: CaseEvent) -> None:
        url = notify.get(case.case_no) or options.callback_url
        if not url:
            return
        raw = json_bytes(
            {
                "eventId": f"{case.case_no}-{event.seq}",
                "caseNo": case.case_no,
                "outBizNo": case.idempotency_key,
                "applyNo": case.application_id,
                "statusCode": protocol.CODE_OF_STATUS[event.status],
                "statusTime": event.at.isoformat(),
                "opinion": event.message,
                "missingMaterials": list(event.missing),
                "certNo": f"CERT-{case.case_no}" if event.status.value == "approved" else None,
            }
        )
        params = protocol.signed_params(app_id, secret, raw)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        answer = await pusher.post(f"{url}?{urlencode(params)}", raw, headers)
        if answer is not None and json.loads(answer).get("code") != protocol.OK:
            log.warning("sandbox.push_not_acknowledged", case_no=case.case_no)

    core = SandboxCore("SZ", options, push)
    routes = web.RouteTableDef()

    async def authenticated(request: web.Request) -> dict[str, Any] | web.Response:
        raw = await request.read()
        failure = protocol.verify(app_id, secret, request.query, raw)
        if failure is not None:
            return _answer(failure)
        if not nonces.first_use(request.query["nonce"]):
            return _answer("1003")
        try:
            data = json.loads(raw)
        except ValueError:
            return _answer("2001", msg="请求体不是合法 JSON")
        if not isinstance(data, dict) or not data.get("outBizNo"):
            return _answer("2001", msg="缺少 outBizNo")
        return data

    @routes.post(protocol.PATHS["submission"])
    async def submit(request: web.Request) -> web.Response:
        data = await authenticated(request)
        if isinstance(data, web.Response):
            return data
        try:
            review = json_review(data)
            item = data["itemCode"]
        except (KeyError, TypeError) as exc:
            return _answer("2001", msg=f"参数校验失败: {exc}")
        if not item:
            return _answer("2001", msg="itemCode 不能为空")
        case, duplicate = core.submit(data["outBizNo"], data.get("applyNo"), review)
        if data.get("notifyUrl"):
            notify[case.case_no] = str(data["notifyUrl"])
        return _answer(protocol.OK, {"caseNo": case.case_no, "duplicate": duplicate})

    async def followup(request: web.Request, kind: str) -> web.Response:
        data = await authenticated(request)
        if isinstance(data, web.Response):
            return data
        try:
            case_no = await json_follow_up(core, kind, data, "outBizNo")
        except SandboxError as exc:
            return _answer(_ERROR_CODES[exc.kind], msg=exc.message)
        except (KeyError, TypeError, ValueError) as exc:
            return _answer("2001", msg=f"参数校验失败: {exc}")
        return _answer(protocol.OK, {"caseNo": case_no})

    add_follow_up_routes(routes, protocol.PATHS, followup)

    @routes.get(protocol.PING_PATH)
    async def ping(request: web.Request) -> web.Response:
        return _answer(protocol.OK, {"region": "440300"})

    def transient(message: str) -> web.Response:
        return _answer("3001", msg=message)

    return sandbox_app(core, routes, transient, config, pusher)
