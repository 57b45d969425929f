"""``tongban partner get`` for people: a short summary of an application, in plain lines.

The gateway's JSON answer runs to about 200 lines (materials with digests, the
signature evidence, every history detail); a person first wants the status, the
region's case number, the due dates and what happened when, in the region's own
words. ``--json`` still prints the whole answer.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len

from gateway.envelope import Status
from gateway.wording import counted

__all__ = ["application_summary"]


def _when(value: str | None) -> str:
    """``2026-12-03T13:57:01.032884+00:00`` → ``2026-12-03 13:57:01`` (UTC, as sent)."""
    return f"{value[:10]} {value[11:19]}" if value else "-"


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal cells (a Chinese character takes two)."""
    return text + " " * max(0, width - cell_len(text))


def _status(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return f"{value} {Status(value).label_zh}"
    except ValueError:
        return value


def _materials(materials: list[dict[str, Any]]) -> str:
    provided = [m.get("material_name") or m["material_id"] for m in materials if m["provided"]]
    missing = [m.get("material_name") or m["material_id"] for m in materials if not m["provided"]]
    text = f"{len(provided)} provided"
    if missing:
        text += f", {len(missing)} to follow (容缺): {'、'.join(missing)}"
    return text


def _history_line(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    words = detail.get("message") or detail.get("reason") or ""
    what = _status(event["to_status"]) if event["to_status"] else event["kind"]
    line = f"  {_when(event['occurred_at'])}  {_pad(what, 17)} {event['actor']}"
    return f"{line}  {words}" if isinstance(words, str) and words else line


def _delivery_line(delivery: dict[str, Any]) -> str:
    line = (
        f"  {delivery['kind']} → {delivery['region']}: {delivery['state']} "
        f"({counted(delivery['attempts'], 'attempt')})"
    )
    if delivery.get("last_error") and delivery["state"] != "delivered":
        line += f", last error: {delivery['last_error']}"
    return line


def application_summary(body: dict[str, Any]) -> str:
    """The lines a person reads first about the application `body` (GET's JSON answer)."""
    applicant = body.get("applicant") or {}
    who = [str(applicant[key]) for key in ("name", "id_number") if applicant.get(key)]
    due = body.get("due") or {}
    due_text = f"promised {due.get('promised') or '-'}, legal {due.get('legal') or '-'}"
    if due.get("overdue"):
        due_text += "  OVERDUE"
    rows = [
        ("application", body["id"]),
        ("status", _status(body["status"])),
        ("item", f"{body['item_code']} ({body['receiving_region']} → {body['competent_region']})"),
        ("region case", body.get("region_case_no") or "-"),
        ("applicant", " ".join(who) or "-"),
        ("materials", _materials(body.get("materials") or [])),
        ("due", due_text),
        ("submitted", f"{_when(body.get('created_at'))} UTC"),
    ]
    if body.get("supplement_due"):
        rows.append(("supplement due", body["supplement_due"]))
    lines = [f"{label:<14} {value}" for label, value in rows]
    lines.append("history")
    lines += [_history_line(event) for event in body.get("history") or []]
    if body.get("deliveries"):
        lines.append("deliveries")
        lines += [_delivery_line(delivery) for delivery in body["deliveries"]]
    return "\n".join(lines)
