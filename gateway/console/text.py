"""How the console writes things for people: dates in Beijing time, working days, the timeline.

Dates as people write them (2026年12月3日 星期四 14:05), working days left or
overdue, and each history event of a case as one plain Chinese sentence with
the region's own message; digests and ids stay out of the sentences.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.applications import deadlines
from gateway.envelope import Status

BEIJING = ZoneInfo("Asia/Shanghai")
_WEEKDAYS = "一二三四五六日"

_DELIVERY_KINDS = {
    "submission": "申请",
    "supplement": "补正材料",
    "withdrawal": "撤回申请",
    "rating": "评价",
}


_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}

_FILE_KINDS = {
    "application/pdf": "PDF",
    "image/jpeg": "JPG",
    "image/png": "PNG",
    "application/ofd": "OFD",
}


def file_kind(media_type: str) -> str:
    """A media type as people name the file kind: PDF, JPG."""
    return _FILE_KINDS.get(media_type, media_type)


def when(value: str | datetime | None) -> str:
    """``2026年12月3日 星期四 14:05`` in Beijing time, from an ISO timestamp."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(BEIJING)
    return f"{day(local.date())} {local:%H:%M}"


def day(value: str | date | None) -> str:
    """``2026年12月3日 星期四`` from a date or an ISO date."""
    if not value:
        return ""
    moment = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.year}年{moment.month}月{moment.day}日 星期{_WEEKDAYS[moment.weekday()]}"


def working_days_left(due: str | None, today: date) -> str:
    """``还剩 3 个工作日``, ``今天到期`` or ``已逾期 2 个工作日``."""
    if not due:
        return ""
    target = date.fromisoformat(due)
    if target == today:
        return "今天到期"
    if target > today:
        return f"还剩 {deadlines.working_days_between(today, target)} 个工作日"
    return f"已逾期 {deadlines.working_days_between(target, today)} 个工作日"


def status_zh(value: str | None) -> str:
    if not value:
        return ""
    try:
        return Status(value).label_zh
    except ValueError:
        return value


def actor_zh(actor: str, region_names: dict[str, str]) -> str:
    """Who did it, in words: 窗口人员 zhangsan, 深圳市系统, 合作方 x, 网关."""
    kind, _, name = actor.partition(":")
    if kind == "staff":
        return f"工作人员 {name}"
    if kind == "partner":
        return f"合作方 {name}"
    if kind == "region":
        return f"{region_names.get(name, name)}业务系统"
    return "通办网关"


def event_sentence(event: dict[str, Any], region_names: dict[str, str]) -> str:
    """One history event as a sentence a clerk reads at a glance."""
    kind = event["kind"]
    detail = event.get("detail") or {}
    to_zh = status_zh(event.get("to_status"))
    replayed = (event.get("from_status"), event.get("to_status")) == (
        Status.RELAY_FAILED.value,
        Status.RECEIVED.value,
    )
    if kind == "transition" and replayed:
        return "转发失败的申请已重新排队转发"
    if (
        kind == "transition"
        and event.get("to_status") == Status.RECEIVED.value
        and not event.get("from_status")
    ):
        deferred = detail.get("deferred_materials") or []
        text = f"收件，材料 {len(detail.get('materials') or [])} 项"
        if deferred:
            text += f"，容缺 {len(deferred)} 项"
        return text
    if kind == "transition":
        text = f"状态变为“{to_zh}”"
    elif kind == "ignored":
        text = f"收到“{to_zh}”通知，与当前状态不符，已记录未采用"
    elif kind.endswith("_delivered"):
        what = _DELIVERY_KINDS.get(kind.removesuffix("_delivered"), "消息")
        text = f"{what}已送达业务属地系统"
        if detail.get("region_case_no"):
            text += f"，对方办件编号 {detail['region_case_no']}"
    elif kind.endswith("_failed"):
        what = _DELIVERY_KINDS.get(kind.removesuffix("_failed"), "消息")
        text = f"{what}转发失败：{detail.get('reason', '原因未知')}"
    elif kind == "transition" and event.get("to_status") == Status.DELIVERED.value:
        text = "结果已当面交给申请人（已送达）" if detail.get("channel") == "window" else "已送达"
    elif kind == "tracking_recorded":
        leg = "材料寄往业务属地" if detail.get("leg") == "materials" else "结果寄给申请人"
        text = f"登记运单号（{leg}）：{detail.get('carrier', '')} {detail.get('number', '')}"
    elif kind == "rating":
        text = f"申请人评价：{_LEVELS.get(int(detail.get('level') or 0), '已评价')}"
    elif kind == "followup_closed":
        text = "差评回访已办结"
    elif kind.endswith("_replayed"):
        what = _DELIVERY_KINDS.get(kind.removesuffix("_replayed"), "消息")
        text = f"{what}已重新排队转发"
    else:
        text = f"{kind}（{to_zh}）" if to_zh else kind
    message = detail.get("message")
    if message:
        text += f"。对方说明：{message}"
    return text


def timeline(events: list[dict[str, Any]], region_names: dict[str, str]) -> list[dict[str, str]]:
    """The case's history as rows of when, who and what."""
    return [
        {
            "when": when(event.get("occurred_at") or event.get("recorded_at")),
            "who": actor_zh(str(event.get("actor") or "system"), region_names),
            "what": event_sentence(event, region_names),
        }
        for event in events
    ]
