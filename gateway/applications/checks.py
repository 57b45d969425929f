"""Checking a request against its models and the catalogue, listing every bad field.

`validate_request` parses a body into a request model and, in the same pass, checks
what depends on the item (handling mode, channel, applicant kind, materials and
容缺 rules, form fields) on the raw body, so one answer names every problem even
when the body is also structurally wrong. Messages are Chinese, for the clerk.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.applications.models import ApplicationRequest
from gateway.catalog.catalog import Catalog
from gateway.catalog.models import Item
from gateway.errors import FieldError, IdentifierError, InvalidApplication

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "必填项，不能为空",
    "extra_forbidden": "不认识的字段，请删除",
    "string_too_short": "不能为空",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不正确",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "union_tag_invalid": "类型不正确（应为 person 或 enterprise）",
    "union_tag_not_found": "缺少类型（person 或 enterprise）",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "datetime_parsing": "日期时间格式不正确",
    "datetime_from_date_parsing": "日期时间格式不正确",
    "bool_type": "应为是或否（true/false）",
    "bool_parsing": "应为是或否（true/false）",
    "too_short": "至少需要一项",
    "too_long": "项目过多",
    "model_type": "格式不正确，应为对象",
    "model_attributes_type": "格式不正确，应为对象",
    "dict_type": "格式不正确，应为对象",
    "tuple_type": "格式不正确，应为列表",
    "string_type": "应为文字",
}


def field_errors(error: ValidationError) -> list[FieldError]:
    """Translate pydantic's errors into clerk-readable `FieldError`s."""
    found = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        # Drop the union tag pydantic inserts (applicant.person.name → applicant.name).
        if len(loc) >= 2 and loc[0] == "applicant" and loc[1] in ("person", "enterprise"):
            del loc[1]
        field = ".".join(loc) or "(body)"
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, IdentifierError):
            message = cause.message_zh
        elif item["type"] == "value_error":
            message = str(cause) if cause else item["msg"]
        else:
            message = _MESSAGES.get(item["type"], f"不正确：{item['msg']}")
        found.append(FieldError(field, message, item["type"]))
    return found


def parse(model: type[M], body: Any) -> M:
    """`body` as `model`; raise `InvalidApplication` listing every bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidApplication(field_errors(exc)) from None


def validate_request(body: Any, catalog: Catalog) -> tuple[ApplicationRequest, Item]:
    """Parse and check an application body; raise `InvalidApplication` with every problem."""
    errors: list[FieldError] = []
    request: ApplicationRequest | None = None
    try:
        request = ApplicationRequest.model_validate(body)
    except ValidationError as exc:
        errors += field_errors(exc)
    raw = body if isinstance(body, dict) else {}
    item = catalog.get(str(raw.get("item_code", "")))
    if item is None and "item_code" in raw:
        errors.append(FieldError("item_code", "事项编码不在目录中，请核对", "unknown_item"))
    if (
        isinstance(raw.get("receiving_region"), str)
        and catalog.region(raw["receiving_region"]) is None
    ):
        errors.append(FieldError("receiving_region", "收件地不是已接入的地区", "unknown_region"))
    if item is not None:
        errors += item_errors(raw, item)
    if errors or request is None or item is None:
        unique = list(dict.fromkeys(errors))  # the same problem found twice is listed once
        raise InvalidApplication(unique or [FieldError("(body)", "请求内容不完整", "invalid")])
    return request, item


def item_errors(raw: dict[str, Any], item: Item) -> list[FieldError]:
    """What the item's catalogue entry refuses in `raw` (tolerant of a malformed body)."""
    errors: list[FieldError] = []
    mode = raw.get("handling_mode")
    if isinstance(mode, str) and mode not in [m.value for m in item.handling_modes]:
        allowed = "、".join(m.label_zh for m in item.handling_modes)
        errors.append(FieldError("handling_mode", f"本事项只能{allowed}", "mode_not_offered"))
    channel = raw.get("channel")
    if isinstance(channel, str) and channel not in [c.value for c in item.channels]:
        errors.append(FieldError("channel", "本事项不支持此办理渠道", "channel_not_offered"))
    applicant = raw.get("applicant")
    kind = applicant.get("kind", "person") if isinstance(applicant, dict) else None
    if isinstance(kind, str) and kind in ("person", "enterprise") and kind not in item.server_type:
        who = "自然人" if kind == "person" else "法人"
        errors.append(FieldError("applicant.kind", f"本事项不面向{who}办理", "server_type"))
    errors += material_errors(raw.get("materials"), item, initial=True)
    errors += form_errors(raw.get("form"), item)
    return errors


def material_errors(materials: Any, item: Item, *, initial: bool) -> list[FieldError]:
    """Unknown, repeated, wrongly deferred or missing materials.

    At intake (`initial`), every required material must be listed: provided, or
    deferred if the item allows it (容缺); a missing non-deferrable one is refused.
    """
    errors: list[FieldError] = []
    entries = materials if isinstance(materials, list | tuple) else []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        material_id = entry.get("material_id")
        where = f"materials.{index}"
        material = item.material(str(material_id))
        if material is None:
            errors.append(FieldError(f"{where}.material_id", "本事项没有这项材料", "unknown"))
            continue
        if material.id in seen:
            errors.append(FieldError(f"{where}.material_id", "材料重复提交", "repeated"))
        seen.add(material.id)
        provided = entry.get("provided", True)
        if provided is False and not material.deferrable:
            errors.append(
                FieldError(
                    f"{where}.provided",
                    f"“{material.material_name}”不属于容缺材料，必须当场提供",
                    "not_deferrable",
                )
            )
        attachments = entry.get("attachments") or []
        if provided is not False and material.material_format != "paper" and not attachments:
            errors.append(
                FieldError(
                    f"{where}.attachments",
                    f"“{material.material_name}”需上传电子件",
                    "attachment_required",
                )
            )
    if initial:
        for material in item.materials:
            if material.is_need and material.id not in seen:
                hint = "，或标记为容缺" if material.deferrable else ""
                errors.append(
                    FieldError(
                        "materials",
                        f"缺少必要材料“{material.material_name}”（{material.id}）{hint}",
                        "required_missing",
                    )
                )
    return errors


def form_errors(form: Any, item: Item) -> list[FieldError]:
    """The item's form fields: required ones present, kinds and choices respected."""
    values = form if isinstance(form, dict) else {}
    errors: list[FieldError] = []
    fields = {f.name: f for f in item.form_fields}
    for name in sorted(set(values) - set(fields)):
        errors.append(FieldError(f"form.{name}", "本事项没有这个表单项", "unknown_field"))
    for name, spec in fields.items():
        value = values.get(name)
        where = f"form.{name}"
        if value is None or value == "":
            if spec.required:
                errors.append(FieldError(where, f"“{spec.label_zh}”为必填项", "missing"))
            continue
        if spec.kind == "number" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            errors.append(FieldError(where, f"“{spec.label_zh}”应为数字", "number"))
        elif spec.kind == "date" and not _is_date(value):
            errors.append(FieldError(where, f"“{spec.label_zh}”应为日期（YYYY-MM-DD）", "date"))
        elif spec.kind == "choice" and value not in spec.choices:
            choices = "、".join(spec.choices)
            errors.append(FieldError(where, f"“{spec.label_zh}”只能选：{choices}", "choice"))
        elif spec.kind == "text" and not isinstance(value, str):
            errors.append(FieldError(where, f"“{spec.label_zh}”应为文字", "text"))
    return errors


def _is_date(value: Any) -> bool:
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return False
    return True
