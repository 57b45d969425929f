"""The Dongguan adapter: SOAP 1.1 approval service, results by polling ``queryStatus``.

Contract: contracts/regions/dongguan.md (MODELLED). A SOAP fault with faultcode
``soap:Server`` (or an HTTP 5xx without a fault) is `RegionUnavailable`; ``soap:Client``
is `RegionRejected` with the fault's ``errorCode``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.base import (
    AdapterBase,
    AdapterConfig,
    HttpClient,
    envelope_headers,
    require_case_no,
    trace_headers,
)
from adapters.dongguan import protocol
from adapters.dongguan.protocol import child, q, text
from adapters.dongguan.settings import DongguanSettings
from adapters.http import retry_after
from gateway.envelope import (
    Envelope,
    EnvelopeMaterial,
    Party,
    RatingBody,
    RegionAck,
    StatusEvent,
    SubmissionBody,
    SupplementBody,
    WithdrawalBody,
)
from gateway.errors import RegionRejected, RegionUnavailable

POLL_BATCH = 50


def _party(parent: ET.Element, tag: str, p: Party) -> None:
    element = child(parent, tag, None)
    child(element, "type", p.kind)
    child(element, "name", p.name)
    child(element, "certType", p.id_type)
    child(element, "certNo", p.id_number)
    child(element, "phone", p.phone)


def _materials(parent: ET.Element, materials: Sequence[EnvelopeMaterial]) -> None:
    container = child(parent, "materials", None)
    for m in materials:
        element = child(container, "material", None)
        child(element, "id", m.material_id)
        child(element, "name", m.material_name)
        child(element, "provided", m.provided)
        child(element, "trustLevel", m.trust_level)
        for digest in m.attachments:
            child(element, "digest", digest)


class DongguanAdapter(AdapterBase):
    """Dongguan's SOAP approval service (poll region)."""

    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        settings = config.settings_as(DongguanSettings)
        super().__init__(config, http, settings)
        self._username = settings.username
        self._password = settings.password.get_secret_value()

    async def submit(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SubmissionBody)  # noqa: S101 - the relay routes by kind
        op = self._operation(envelope)
        child(op, "externalNo", envelope.application_id)
        child(op, "itemCode", envelope.item_code)
        child(op, "taskCode", envelope.task_code)
        child(op, "receiveRegion", envelope.receiving_region)
        child(op, "handleMode", body.handling_mode.value)
        child(op, "channel", body.channel.value)
        _party(op, "applicant", body.applicant)
        if body.agent is not None:
            _party(op, "agent", body.agent)
        _materials(op, body.materials)
        child(op, "formJson", json.dumps(body.form, ensure_ascii=False, default=str))
        delivery = child(op, "delivery", body.delivery.address)
        delivery.set("method", body.delivery.method)
        child(op, "supplementDeadline", body.supplement_deadline)
        return await self._deliver(envelope, op)

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SupplementBody)  # noqa: S101 - the relay routes by kind
        op = self._operation(envelope)
        _materials(op, body.materials)
        return await self._deliver(envelope, op)

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, WithdrawalBody)  # noqa: S101 - the relay routes by kind
        op = self._operation(envelope)
        child(op, "reason", body.reason)
        return await self._deliver(envelope, op)

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, RatingBody)  # noqa: S101 - the relay routes by kind
        op = self._operation(envelope)
        child(op, "level", body.level)
        for name, score in body.indicators.items():
            child(op, "indicator", score).set("name", name)
        child(op, "comment", body.comment)
        return await self._deliver(envelope, op)

    async def poll(self, cases: Sequence[str]) -> list[StatusEvent]:
        """Every status record Dongguan holds for `cases`, in batches of 50."""
        events: list[StatusEvent] = []
        for start in range(0, len(cases), POLL_BATCH):
            op = ET.Element(q("queryStatus"))
            for case_no in cases[start : start + POLL_BATCH]:
                child(op, "acceptNo", case_no)
            answer = await self._call(op, "queryStatus", trace_headers(None, None))
            events.extend(self._events(answer))
        return events

    async def health(self) -> dict[str, Any]:
        op = ET.Element(q("echo"))
        child(op, "message", "ping")
        await self._call(op, "echo", {}, timeout=self._config.health_timeout)
        return {"url": self.base_url}

    def _operation(self, envelope: Envelope) -> ET.Element:
        op = ET.Element(q(protocol.OPERATIONS[envelope.kind]))
        child(op, "serialNo", envelope.idempotency_key)
        if envelope.kind != "submission":
            child(op, "acceptNo", require_case_no(self.region, envelope))
        return op

    async def _deliver(self, envelope: Envelope, op: ET.Element) -> RegionAck:
        answer = await self._call(op, op.tag.split("}")[1], envelope_headers(envelope))
        accept_no = text(answer, "acceptNo") or envelope.region_case_no
        if not accept_no:
            raise RegionUnavailable(self.region, "answer without acceptNo")
        received = text(answer, "receivedAt")
        return RegionAck(
            region_case_no=accept_no,
            received_at=datetime.fromisoformat(received) if received else None,
            duplicate=text(answer, "duplicate") == "true",
        )

    async def _call(
        self,
        op: ET.Element,
        action: str,
        headers: dict[str, str],
        timeout: float | None = None,  # noqa: ASYNC109 - per-request limit for the client
    ) -> ET.Element:
        raw = protocol.envelope(op, self._username, self._password)
        response = await self._http.request(
            "POST",
            self._url(protocol.SERVICE_PATH),
            region=self.region,
            content=raw,
            headers={
                "Content-Type": protocol.CONTENT_TYPE,
                "SOAPAction": f'"urn:dg:approval:{action}"',
                **headers,
            },
            timeout=timeout,
        )
        try:
            _, answer = protocol.parse(response.body)
        except protocol.XmlError as exc:
            raise RegionUnavailable(
                self.region,
                f"HTTP {response.status}, not a SOAP answer: {exc}",
                retry_after=retry_after(response.headers),
            ) from exc
        if answer.tag == q("Fault", protocol.SOAP):
            side = answer.findtext("faultcode", "")
            message = answer.findtext("faultstring", "")
            code = answer.findtext(f"detail/{q('errorCode')}", "") or side
            if side.endswith("Server"):
                raise RegionUnavailable(
                    self.region, f"[{code}] {message}", retry_after=retry_after(response.headers)
                )
            raise RegionRejected(self.region, code, message)
        if response.status != 200:
            raise RegionUnavailable(self.region, f"HTTP {response.status}")
        return answer

    def _events(self, answer: ET.Element) -> list[StatusEvent]:
        events = []
        try:
            for case in answer.iter(q("case")):
                accept_no = case.attrib["acceptNo"]
                for record in case.iter(q("record")):
                    code = text(record, "statusCode")
                    deadline = text(record, "supplementDeadline")
                    events.append(
                        StatusEvent(
                            event_id=f"{accept_no}:{record.attrib['seq']}",
                            region=self.region,
                            region_case_no=accept_no,
                            application_id=case.attrib.get("externalNo") or None,
                            status=protocol.STATUS_CODES[code],
                            occurred_at=datetime.fromisoformat(text(record, "statusTime")),
                            region_code=code,
                            message=text(record, "opinion") or None,
                            missing_materials=tuple(
                                m.text or "" for m in record.iter(q("missing"))
                            ),
                            supplement_deadline=deadline or None,
                            certificate_no=text(record, "certNo") or None,
                        )
                    )
        except (KeyError, ValueError) as exc:
            raise RegionUnavailable(self.region, f"unreadable queryStatus answer: {exc}") from exc
        return events


def create(config: AdapterConfig, http: HttpClient) -> DongguanAdapter:
    """Entry point ``dongguan`` of group ``tongban.adapters``."""
    return DongguanAdapter(config, http)
