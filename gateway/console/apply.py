"""The application form: built from the item's materials checklist, submitted through intake.

The form posts multipart: its CSRF token first (checked before any file is
stored), then the fields, then one file input per material. Files go to the same
content-addressed `AttachmentStore` as ``POST /v1/attachments``; the body built
from the form goes to `intake.submit`, the one intake the REST API uses, as
caller ``staff:<id>`` with the form's Idempotency-Key, so a double click or a
reload makes one application. Its 422 field errors come back next to each field,
word for word, and in a summary at the top; nothing typed or uploaded is lost.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from aiohttp import BodyPartReader, web

from gateway.app_keys import APPLICATIONS, CATALOG, METRICS
from gateway.applications import clocks, deadlines, intake
from gateway.applications.checks import validate_request
from gateway.applications.records import Deps
from gateway.catalog.models import Channel, HandlingMode, Item, TrustLevel
from gateway.console.auth import CSRF_FIELD, check_csrf, render, session_of, staff_page
from gateway.console.catalogue import item_or_404, region_names
from gateway.errors import AttachmentError, FieldError, IdempotencyConflict, InvalidApplication
from gateway.http.bodies import MULTIPART_ERRORS, read_multipart
from gateway.observability import request_id_of
from gateway.staff.accounts import Account, Role

routes = web.RouteTableDef()
log = structlog.get_logger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9-]{16,80}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_MATERIAL_IN_MESSAGE = re.compile(r"（([a-z0-9_]{1,40})）")
_MAX_TEXT_BYTES = 64 * 1024
_CHUNK = 64 * 1024

ID_TYPES = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
}


@dataclass
class Upload:
    """A file stored for one material: its digest, and the name and type it came with."""

    digest: str
    filename: str
    media_type: str

    def kept(self) -> str:
        return f"{self.digest}|{self.media_type}|{self.filename}"

    @classmethod
    def parse(cls, value: str) -> Upload | None:
        digest, _, rest = value.partition("|")
        media_type, _, filename = rest.partition("|")
        if not _DIGEST.match(digest):
            return None
        return cls(digest, filename[:200], media_type[:100])


@dataclass
class FormState:
    """What the clerk entered (kept across a refused submission) and what is wrong with it."""

    values: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, list[Upload]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def checked(self, name: str) -> bool:
        return name in self.values

    def add_error(self, anchor: str, message: str) -> None:
        if message not in self.errors.setdefault(anchor, []):
            self.errors[anchor].append(message)
            self.summary.append((anchor, message))


def _deps(request: web.Request) -> Deps:
    return request.config_dict[APPLICATIONS]


def _today() -> date:
    return clocks.local_date(clocks.now_utc())


def supplement_deadline(deps: Deps) -> date:
    """The latest date a 容缺 material may be promised by (the intake's own deadline)."""
    return deadlines.add_working_days(_today(), deps.settings.supplement_working_days)


def default_mode(item: Item, account: Account) -> HandlingMode:
    """异地代收代办 when the item belongs to another region and offers it."""
    if item.competent_region != account.centre_region and HandlingMode.PROXY in item.handling_modes:
        return HandlingMode.PROXY
    return item.handling_modes[0]


@routes.get("/items/{code}/apply")
@staff_page(Role.STAFF, Role.SUPERVISOR)
async def form_page(request: web.Request) -> web.StreamResponse:
    item = item_or_404(request.config_dict[CATALOG], request.match_info["code"])
    account = session_of(request).account
    deps = _deps(request)
    state = FormState(
        values={
            "idempotency_key": str(uuid.uuid4()),
            "opened_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "handling_mode": default_mode(item, account).value,
            "applicant_kind": item.server_type[0],
            "applicant_id_type": "resident_id",
            "rep_id_type": "resident_id",
            "delivery_method": "window_pickup",
            **{f"promised_{m.id}": supplement_deadline(deps).isoformat() for m in item.materials},
        }
    )
    return _render(request, item, state, status=200)


def _render(request: web.Request, item: Item, state: FormState, *, status: int) -> web.Response:
    catalog = request.config_dict[CATALOG]
    account = session_of(request).account
    return render(
        "apply.html",
        request,
        {
            "item": item,
            "form": state,
            "regions": region_names(catalog),
            "own_region": account.centre_region,
            "id_types": ID_TYPES,
            "deadline": supplement_deadline(_deps(request)),
            "csrf_token": session_of(request).csrf_token,
            "trust_b": TrustLevel.B,
        },
        status=status,
    )


@routes.post("/items/{code}/apply")
@staff_page(Role.STAFF, Role.SUPERVISOR, multipart=True)
async def submit(request: web.Request) -> web.StreamResponse:
    item = item_or_404(request.config_dict[CATALOG], request.match_info["code"])
    session = session_of(request)
    account = session.account
    deps = _deps(request)
    state = FormState()
    try:
        await read_form(request, session.csrf_token, deps, item, state)
    except MULTIPART_ERRORS as exc:
        raise web.HTTPBadRequest(text="表单内容格式有误，请重新打开收件页面填写。") from exc
    key = state.get("idempotency_key")
    if not _KEY.match(key):
        raise web.HTTPBadRequest(text="表单不完整（缺少提交编号），请重新打开收件页面填写。")
    body = _body(item, account, state, deps)
    if state.errors:
        # An upload was refused: show every other problem too, but submit nothing.
        try:
            validate_request(body, deps.catalog)
        except InvalidApplication as exc:
            _place_errors(state, item, exc.errors, body)
        return _render(request, item, state, status=422)
    try:
        result = await intake.submit(
            deps,
            body,
            request_id=request_id_of(request) or "",
            caller=account.actor,
            idempotency_key=key,
        )
    except InvalidApplication as exc:
        _place_errors(state, item, exc.errors, body)
        return _render(request, item, state, status=422)
    except IdempotencyConflict:
        state.add_error(
            "form_top",
            "这份表单已经提交过，内容又有改动。已提交的申请请在办件列表中查看；"
            "如要办理新的申请，请重新开始收件。",
        )
        return _render(request, item, state, status=409)
    metrics = request.config_dict.get(METRICS)
    if metrics is not None and result.status == 202 and not result.replayed:
        metrics.taken_in(str(body["channel"]), item.competent_region)
    log.info(
        "console.application_submitted",
        application_id=result.body["id"],
        staff=account.id,
        replayed=result.replayed,
        duplicate=bool(result.duplicate_of),
    )
    suffix = "?duplicate=1" if result.duplicate_of else ""
    raise web.HTTPSeeOther(f"/console/cases/{result.body['id']}/receipt{suffix}")


async def read_form(
    request: web.Request, csrf: str, deps: Deps, item: Item, state: FormState
) -> None:
    """Read the multipart form: CSRF token first, then fields, files stored as they come."""
    reader = await read_multipart(request)
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != CSRF_FIELD:
        check_csrf(csrf, None)
    assert isinstance(first, BodyPartReader)  # noqa: S101 - check_csrf raised otherwise
    check_csrf(csrf, (await first.read(decode=False))[:200].decode("utf-8", "replace"))
    text_bytes = 0
    fresh: dict[str, list[Upload]] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            raw = await part.read(decode=False)
            text_bytes += len(raw)
            if text_bytes > _MAX_TEXT_BYTES:
                raise web.HTTPRequestEntityTooLarge(
                    max_size=_MAX_TEXT_BYTES, actual_size=text_bytes, text="表单内容过长"
                )
            value = raw.decode("utf-8", "replace")
            if part.name.startswith("kept_"):
                upload = Upload.parse(value)
                if upload is not None:
                    state.uploads.setdefault(part.name.removeprefix("kept_"), []).append(upload)
            else:
                state.values[part.name] = value
            continue
        material_id = part.name.removeprefix("file_")
        if not part.filename or item.material(material_id) is None:
            await part.release()
            continue
        media_type = part.headers.get("Content-Type", "application/octet-stream")
        try:
            stored = await deps.attachments.save(_chunks(part), media_type)
        except AttachmentError as exc:
            await part.release()
            state.add_error(f"material_{material_id}", f"{part.filename}：{exc.message_zh}")
            continue
        await _record_attachment(deps, stored.digest, stored.media_type, stored.size)
        fresh.setdefault(material_id, []).append(
            Upload(stored.digest, part.filename[:200], stored.media_type)
        )
    # Files chosen now replace those kept from an earlier, refused submission.
    state.uploads.update(fresh)


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


async def _record_attachment(deps: Deps, digest: str, media_type: str, size: int) -> None:
    # The same row ``POST /v1/attachments`` writes: intake looks files up by it.
    async with deps.store.transaction() as conn:
        await conn.execute(
            "INSERT INTO attachments (digest, media_type, size, created_at) VALUES (:digest, "
            ":media_type, :size, :now) ON CONFLICT (digest) DO NOTHING",
            {
                "digest": digest,
                "media_type": media_type,
                "size": size,
                "now": datetime.now(UTC).isoformat(),
            },
        )


def _body(item: Item, account: Account, state: FormState, deps: Deps) -> dict[str, Any]:
    """The ``POST /v1/applications`` body the form stands for."""
    get = state.get
    kind = get("applicant_kind", item.server_type[0])
    applicant: dict[str, Any]
    if kind == "enterprise":
        applicant = {
            "kind": "enterprise",
            "name": get("ent_name"),
            "uscc": get("ent_uscc"),
            "legal_representative": {
                "name": get("rep_name"),
                "id_type": get("rep_id_type", "resident_id"),
                "id_number": get("rep_id_number"),
            },
        }
    else:
        applicant = {
            "kind": "person",
            "name": get("applicant_name"),
            "id_type": get("applicant_id_type", "resident_id"),
            "id_number": get("applicant_id_number"),
        }
    attested_at = _attested_at(get("opened_at"))
    materials: list[dict[str, Any]] = []
    attested: list[str] = []
    promises: list[str] = []
    for material in item.materials:
        uploads = state.uploads.get(material.id, [])
        if state.checked(f"deferred_{material.id}"):
            materials.append({"material_id": material.id, "provided": False})
            promised = _promised(state, material.id, deps)
            if promised is not None:
                promises.append(f"{material.material_name} 承诺于 {promised.isoformat()} 前补齐")
            continue
        if not uploads and not material.is_need:
            continue  # an optional material not brought today
        entry: dict[str, Any] = {
            "material_id": material.id,
            "provided": True,
            "attachments": [upload.digest for upload in uploads],
        }
        if state.checked(f"attest_{material.id}") and uploads:
            attested += entry["attachments"]
            if material.trust_level is TrustLevel.C:
                entry["trust_level"] = TrustLevel.B.value  # the original was checked at the window
        materials.append(entry)
    delivery: dict[str, Any] = {"method": get("delivery_method", "window_pickup")}
    if delivery["method"] == "mail":
        delivery["address"] = get("delivery_address") or None
        delivery["recipient"] = get("delivery_recipient") or None
    remarks = "\n".join(filter(None, [get("remarks").strip(), *promises]))
    body: dict[str, Any] = {
        "item_code": item.code,
        "receiving_region": account.centre_region,
        "channel": (Channel.WINDOW if Channel.WINDOW in item.channels else item.channels[0]).value,
        "handling_mode": get("handling_mode", item.handling_modes[0].value),
        "applicant": applicant,
        "phone": get("phone"),
        "delivery": delivery,
        "materials": materials,
        "form": _form_values(item, state),
    }
    if remarks:
        body["remarks"] = remarks
    if attested:
        body["attestation"] = {
            "staff_id": account.id,
            "attested_at": attested_at,
            "attachments": sorted(set(attested)),
        }
    return body


def _attested_at(opened_at: str) -> str:
    """When the originals were checked: while the form was open (fixed per form, so a
    resubmission of the same form is the same request)."""
    try:
        moment = datetime.fromisoformat(opened_at)
    except ValueError:
        moment = datetime.now(UTC)
    if moment.tzinfo is None or moment > datetime.now(UTC):
        moment = datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _promised(state: FormState, material_id: str, deps: Deps) -> date | None:
    anchor = f"promised_{material_id}"
    text = state.get(anchor).strip()
    latest = supplement_deadline(deps)
    if not text:
        state.add_error(anchor, "请填写容缺材料的承诺补齐日期")
        return None
    try:
        promised = date.fromisoformat(text)
    except ValueError:
        state.add_error(anchor, "承诺补齐日期格式应为 年-月-日")
        return None
    if promised < _today():
        state.add_error(anchor, "承诺补齐日期不能早于今天")
    elif promised > latest:
        state.add_error(anchor, f"承诺补齐日期不能晚于补正期限 {latest.isoformat()}")
    return promised


def _form_values(item: Item, state: FormState) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in item.form_fields:
        raw = state.get(f"form_{spec.name}").strip()
        if not raw:
            continue
        if spec.kind == "number":
            values[spec.name] = _number(raw)
        else:
            values[spec.name] = raw
    return values


def _number(raw: str) -> int | float | str:
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            continue
    return raw  # intake answers "应为数字" next to the field


def _place_errors(
    state: FormState, item: Item, errors: list[FieldError], body: dict[str, Any]
) -> None:
    """Put each intake error next to the form field it is about (and in the summary)."""
    listed = [m["material_id"] for m in body.get("materials", [])]
    kind = body.get("applicant", {}).get("kind", "person")
    for error in errors:
        state.add_error(_anchor(error, listed, kind), error.message)


_APPLICANT = {
    ("person", "name"): "applicant_name",
    ("person", "id_type"): "applicant_id_type",
    ("person", "id_number"): "applicant_id_number",
    ("enterprise", "name"): "ent_name",
    ("enterprise", "uscc"): "ent_uscc",
    ("enterprise", "legal_representative.name"): "rep_name",
    ("enterprise", "legal_representative.id_type"): "rep_id_type",
    ("enterprise", "legal_representative.id_number"): "rep_id_number",
}


def _anchor(error: FieldError, listed: list[str], kind: str) -> str:
    path = error.field
    head, _, rest = path.partition(".")
    if head == "applicant":
        return _APPLICANT.get((kind, rest), "applicant_kind" if rest == "kind" else "applicant")
    if head == "delivery":
        return "delivery_method" if rest == "method" else "delivery_address"
    if head in ("phone", "handling_mode", "remarks"):
        return head
    if head == "channel":
        return "handling_mode"
    if head == "form" and rest:
        return f"form_{rest.split('.')[0]}"
    if head == "materials":
        index = rest.split(".")[0]
        if index.isdigit() and int(index) < len(listed):
            return f"material_{listed[int(index)]}"
        named = _MATERIAL_IN_MESSAGE.search(error.message)
        if named:
            return f"material_{named[1]}"
        return "materials"
    if head == "attestation":
        return "materials"
    return "form_top"
