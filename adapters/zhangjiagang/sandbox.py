"""A stand-in for Zhangjiagang's 国密 API (contracts/regions/zhangjiagang.md).

Verifies each request's SM2 signature against the gateway's SM2 key and its
freshness and refuses bad ones (100001/100003), opens the SM2 envelope with its own
SM2 key and decrypts with SM4, deduplicates by ``bizSerialNo``, answers sealed
under the request's session key and signed, and pushes status changes, signed and
enveloped to the gateway's key, to its configured callback URL.

Its keys (``[adapters.zhangjiagang]``): ``region_sm2_private_key`` (PEM; default: the
demo key below, whose public half is the adapter's default ``sm2_public_key``)
and ``gateway_sm2_public_key`` (PEM or hex). Without the latter it fetches the
gateway's published SM2 keys from the JWK Set beside its callback URL
(``/.well-known/tongban/keys``), as a region would on registration, and picks the
one named by each request's ``keyId``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
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
from adapters.zhangjiagang import protocol
from adapters.zhangjiagang.settings import ZhangjiagangSettings
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey

_ERROR_CODES = {"invalid": "200001", "not_found": "200004", "conflict": "200005"}

# The sandbox's own key: a DEMO key, public in this repository; never a real region's.
DEMO_REGION_KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgCcu6osEHSi9Gmsoj
gPX1YXHMbB3ESrd9QraQh+xnB4ihRANCAATVBPUKeaaDJX+wUqEqb2jFH8d3pjr4
cQTHfd4WBsPaogWv8jGZEOKhCUPhjveC/zV6m1KX1zAEtgTXxeY7Ngku
-----END PRIVATE KEY-----
"""


def _error(code: str, message: str | None = None, status: int = 200) -> web.Response:
    body = {"retCode": code, "retMsg": message or protocol.ERRORS[code]}
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


class GatewayKeys:
    """The gateway's SM2 public keys by key id: configured, or read from its JWK Set."""

    def __init__(self, configured: SM2PublicKey | None, callback_url: str | None) -> None:
        self._keys: dict[str, SM2PublicKey] = {}
        self._newest: SM2PublicKey | None = configured
        if configured is not None:
            self._keys[configured.thumbprint()] = configured
        self._jwks_url = None
        if configured is None and callback_url:
            parts = urlsplit(callback_url)
            self._jwks_url = f"{parts.scheme}://{parts.netloc}/.well-known/tongban/keys"
        self._lock = asyncio.Lock()

    async def get(self, key_id: str) -> SM2PublicKey | None:
        """The key `key_id`, fetching the JWK Set once more if it is not known yet."""
        if key_id not in self._keys:
            await self._fetch()
        return self._keys.get(key_id)

    async def newest(self) -> SM2PublicKey | None:
        """The key to envelope results to: the last one that signed, else the newest listed."""
        if self._newest is None:
            await self._fetch()
        return self._newest

    def signed_with(self, key: SM2PublicKey) -> None:
        self._newest = key

    async def _fetch(self) -> None:
        if self._jwks_url is None:
            return
        async with self._lock:
            try:
                timeout = aiohttp.ClientTimeout(total=3)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.get(self._jwks_url) as response,
                ):
                    document = await response.json(content_type=None)
                for jwk in document.get("keys", []):
                    if jwk.get("crv") == "SM2":
                        key = SM2PublicKey.from_jwk(jwk)
                        self._keys[key.thumbprint()] = key
                        self._newest = self._newest or key
            except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
                log.warning("sandbox.gateway_keys_unavailable", url=self._jwks_url, error=str(exc))


def create_sandbox(options: SandboxOptions, settings: Mapping[str, Any]) -> web.Application:
    """The Zhangjiagang sandbox; `settings` is the ``[adapters.zhangjiagang]`` table
    (``app_id`` and the optional keys above)."""
    config = sandbox_settings(ZhangjiagangSettings, "zhangjiagang", settings, options)
    app_id = config.app_id
    region_pem = config.region_sm2_private_key
    region_key = SM2PrivateKey.from_pem(
        region_pem.get_secret_value().encode() if region_pem else DEMO_REGION_KEY_PEM
    )
    configured = config.gateway_sm2_public_key
    gateway_keys = GatewayKeys(
        SM2PublicKey.load(configured) if configured else None, options.callback_url
    )
    pusher = Pusher()
    nonces = Nonces()

    def sealed(payload: Any, session_key: bytes) -> web.Response:
        wrapper, _ = protocol.seal(app_id, region_key, payload, session_key=session_key)
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
        recipient = await gateway_keys.newest()
        if recipient is None:
            log.warning("sandbox.push_no_gateway_key", case_no=case.case_no)
            return
        wrapper, _ = protocol.seal(app_id, region_key, payload, recipient=recipient)
        raw = json_bytes(wrapper)
        answer = await pusher.post(options.callback_url, raw, {"Content-Type": "application/json"})
        if answer is not None and json.loads(answer).get("retCode") != protocol.OK:
            log.warning("sandbox.push_not_acknowledged", case_no=case.case_no)

    core = SandboxCore("ZJG320582", options, push)
    routes = web.RouteTableDef()

    async def opened(request: web.Request) -> tuple[dict[str, Any], bytes] | web.Response:
        try:
            wrapper = json.loads(await request.read())
            if not isinstance(wrapper, dict):
                raise TypeError("not an object")
        except (ValueError, TypeError):
            return _error("200001", "报文不是合法 JSON")
        sender = await gateway_keys.get(str(wrapper.get("keyId", "")))
        if sender is None:
            return _error("100001", "未知的签名密钥 keyId")
        try:
            message = protocol.open_sealed(app_id, wrapper, sender=sender, recipient=region_key)
        except protocol.ProtocolError as exc:
            return _error(exc.code)
        gateway_keys.signed_with(sender)
        if not nonces.first_use(str(wrapper.get("nonce"))):
            return _error("100003")
        data = message.data
        if not isinstance(data, dict) or not data.get("bizSerialNo"):
            return _error("200001", "缺少 bizSerialNo")
        return data, message.session_key

    @routes.post(protocol.PATHS["submission"])
    async def submit(request: web.Request) -> web.Response:
        request_data = await opened(request)
        if isinstance(request_data, web.Response):
            return request_data
        data, session_key = request_data
        try:
            review = json_review(data)
            if not data["itemCode"]:
                raise ValueError("itemCode 不能为空")
        except (KeyError, TypeError, ValueError) as exc:
            return _error("200001", f"参数校验失败: {exc}")
        case, duplicate = core.submit(data["bizSerialNo"], data.get("applyNo"), review)
        return sealed({"caseNo": case.case_no, "duplicate": duplicate}, session_key)

    async def followup(request: web.Request, kind: str) -> web.Response:
        request_data = await opened(request)
        if isinstance(request_data, web.Response):
            return request_data
        data, session_key = request_data
        try:
            case_no = await json_follow_up(core, kind, data, "bizSerialNo")
        except SandboxError as exc:
            return _error(_ERROR_CODES[exc.kind], exc.message)
        except (KeyError, TypeError, ValueError) as exc:
            return _error("200001", f"参数校验失败: {exc}")
        return sealed({"caseNo": case_no}, session_key)

    add_follow_up_routes(routes, protocol.PATHS, followup)

    @routes.get(protocol.HEARTBEAT_PATH)
    async def heartbeat(request: web.Request) -> web.Response:
        return web.json_response({"retCode": protocol.OK, "retMsg": "成功"})

    def transient(message: str) -> web.Response:
        response = _error("300002", message, status=503)
        response.headers["Retry-After"] = "1"
        return response

    return sandbox_app(core, routes, transient, config, pusher)
