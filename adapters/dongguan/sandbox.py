"""A stand-in for Dongguan's SOAP approval service (contracts/regions/dongguan.md).

Checks the WS-Security UsernameToken (faults E101/E102), refuses XML it cannot
parse safely (E201), deduplicates by ``serialNo``, and keeps each case's status
records for ``queryStatus``: Dongguan never calls us.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from adapters.dongguan import protocol
from adapters.dongguan.protocol import child, q, text
from adapters.dongguan.settings import DongguanSettings
from adapters.sandbox import (
    SandboxCore,
    SandboxError,
    SandboxOptions,
    decide,
    follow_up,
    sandbox_app,
    sandbox_settings,
)

_FAULTS = {"invalid": "E201", "not_found": "E204", "conflict": "E205"}


def _reply(element: ET.Element) -> web.Response:
    return web.Response(body=protocol.envelope(element), content_type="text/xml", charset="utf-8")


_FOLLOW_UPS = {"supplementCase": "supplement", "withdrawCase": "withdrawal", "rateCase": "rating"}
"""The follow-up operations, by the kind `follow_up` takes."""


def _fault(code: str, message: str | None = None) -> web.Response:
    return web.Response(
        status=500, body=protocol.fault(code, message), content_type="text/xml", charset="utf-8"
    )


def create_sandbox(options: SandboxOptions, settings: Mapping[str, Any]) -> web.Application:
    """The Dongguan sandbox app; `settings` is the ``[adapters.dongguan]`` table (the
    UsernameToken it shares with the adapter)."""
    config = sandbox_settings(DongguanSettings, "dongguan", settings, options)
    username, password = config.username, config.password.get_secret_value()
    core = SandboxCore("DG441900", options, on_event=None)
    nonces: set[str] = set()
    routes = web.RouteTableDef()

    @routes.post(protocol.SERVICE_PATH)
    async def service(request: web.Request) -> web.Response:
        try:
            header, op = protocol.parse(await request.read())
        except protocol.XmlError as exc:
            return _fault("E201", f"报文无法解析: {exc}")
        failure = protocol.verify_token(header, username, password, nonces)
        if failure is not None:
            return _fault(failure)
        name = op.tag.split("}")[-1]
        try:
            if name == "echo":
                answer = ET.Element(q("echoResponse"))
                child(answer, "message", text(op, "message"))
                return _reply(answer)
            if name == "queryStatus":
                return _reply(query(op))
            serial = text(op, "serialNo")
            if not serial:
                return _fault("E201", "缺少 serialNo")
            answer = ET.Element(q(f"{name}Response"))
            if name == "submitCase":
                case, duplicate = submit(op, serial)
                child(answer, "acceptNo", case)
                child(answer, "duplicate", duplicate)
                return _reply(answer)
            accept_no = text(op, "acceptNo")
            kind = _FOLLOW_UPS.get(name)
            if kind is None:
                return _fault("E201", f"未知操作 {name}")
            ids = [text(m, "id") for m in op.iter(q("material"))]
            level = int(text(op, "level")) if kind == "rating" else None
            await follow_up(core, kind, accept_no, serial, material_ids=ids, level=level)
            child(answer, "acceptNo", accept_no)
            return _reply(answer)
        except SandboxError as exc:
            return _fault(_FAULTS[exc.kind], exc.message)
        except (ValueError, KeyError) as exc:
            return _fault("E201", f"报文校验失败: {exc}")

    def submit(op: ET.Element, serial: str) -> tuple[str, bool]:
        materials = {text(m, "id"): text(m, "provided") == "true" for m in op.iter(q("material"))}
        applicant = op.find(q("applicant"))
        if applicant is None or not text(op, "itemCode"):
            raise ValueError("缺少 applicant 或 itemCode")
        form = json.loads(text(op, "formJson") or "{}")
        review = decide(materials, text(applicant, "certType"), text(applicant, "certNo"), form)
        case, duplicate = core.submit(serial, text(op, "externalNo") or None, review)
        return case.case_no, duplicate

    def query(op: ET.Element) -> ET.Element:
        answer = ET.Element(q("queryStatusResponse"))
        for accept_no in op.iter(q("acceptNo")):
            case = core.cases.get(accept_no.text or "")
            if case is None:
                continue
            element = child(answer, "case", None)
            element.set("acceptNo", case.case_no)
            if case.application_id:
                element.set("externalNo", case.application_id)
            for event in case.history:
                record = child(element, "record", None)
                record.set("seq", str(event.seq))
                child(record, "statusCode", protocol.CODE_OF_STATUS[event.status])
                child(record, "statusTime", event.at.isoformat())
                child(record, "opinion", event.message)
                for material in event.missing:
                    child(record, "missing", material)
                if event.status.value == "approved":
                    child(record, "certNo", f"DGZ-{case.case_no}")
        return answer

    def transient(message: str) -> web.Response:
        return _fault("E301", message)

    return sandbox_app(core, routes, transient, config)
