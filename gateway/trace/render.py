"""The trace as people read it: one header and one timeline table per application (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["render_trace"]

_OUTCOME_STYLE = {"delivered": "green", "rejected": "red", "unavailable": "yellow"}


def _time(value: str | None) -> str:
    """``2025-01-31T08:00:00.123Z`` → ``01-31 08:00:00.123`` (UTC, as stored)."""
    if not value:
        return "-"
    return value[5:10] + " " + value[11:23]


def _header(trace: dict[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    due = trace["due"]
    due_text = f"promised {due['promised'] or '-'}  legal {due['legal'] or '-'}"
    if due["provisional"]:
        due_text += "  (provisional: counted from acceptance)"
    if due["overdue"]:
        due_text += "  OVERDUE"
    applicant = trace["applicant"]
    rows = [
        ("application", trace["application_id"]),
        ("matched as", ", ".join(trace["matched_as"])),
        ("status", f"{trace['status']} {trace['status_zh']}"),
        ("item", trace["item_code"]),
        ("regions", f"{trace['receiving_region']} → {trace['competent_region']}"),
        ("region case", trace["region_case_no"] or "-"),
        ("applicant", " ".join(str(v) for v in applicant.values() if v) or "-"),
        ("submitted", f"{trace['created_at']} by {trace['submitted_by']} ({trace['channel']})"),
        ("request id", trace["request_id"]),
        ("trace id", trace["trace_id"] or "-"),
        ("due", due_text),
    ]
    if trace["supplement_due"]:
        rows.append(("supplement due", trace["supplement_due"]))
    for label, value in rows:
        grid.add_row(label, str(value))
    return grid


def _event_row(item: dict[str, Any]) -> tuple[RenderableType, ...]:
    change = ""
    if item["to_status"]:
        change = f"{item['from_status'] or '∅'} → {item['to_status']}"
    extra = ", ".join(f"{k}={v}" for k, v in item["data"].items() if not isinstance(v, list | dict))
    detail = "  ".join(part for part in (change, extra) if part)
    return (
        _time(item["at"]),
        f"#{item['seq']} {item['kind']}",
        item["actor"],
        detail,
        "",
        "",
    )


def _attempt_row(item: dict[str, Any]) -> tuple[RenderableType, ...]:
    hops = item["hops"]
    detail = (
        f"sent {_time(hops['request_sent_at'])[6:]}  "
        f"answered {_time(hops['response_received_at'])[6:]}  "
        f"tries {item['calls'] or '-'}  on {item['instance']}"
    )
    if item["error"]:
        detail += f"\n{item['error_class']}: {item['error']}"
    result = item["outcome"]
    code = item["http_status"] or item["region_code"]
    if code:
        result += f" ({code})"
    return (
        _time(item["at"]),
        f"{item['delivery_kind']} attempt {item['attempt']}",
        f"→ {item['region']}",
        detail,
        f"{item['duration_ms']:.1f} ms",
        Text(result, style=_OUTCOME_STYLE.get(item["outcome"], "red")),
    )


def _timeline(trace: dict[str, Any]) -> Table:
    table = Table(title="timeline (UTC)", title_justify="left", expand=False)
    for name in ("time", "what", "who / where", "detail", "duration", "result"):
        table.add_column(name, overflow="fold")
    for item in trace["timeline"]:
        row = _event_row(item) if item["type"] == "event" else _attempt_row(item)
        table.add_row(*row)
    return table


def _totals(trace: dict[str, Any]) -> Text:
    totals = trace["totals"]
    forward = totals["time_to_forward_seconds"]
    return Text(
        f"attempts {totals['attempts']} (failed {totals['failed_attempts']}), "
        f"deliveries {totals['deliveries']} (dead letters {totals['dead_letters']}), "
        f"time in region calls {totals['attempt_time_ms']:.1f} ms, "
        f"time to forward {'-' if forward is None else f'{forward:.3f} s'}"
    )


def render_trace(result: dict[str, Any], console: Console) -> None:
    """Print every application of `result` (from `find_trace`) to `console`."""
    for index, trace in enumerate(result["applications"]):
        if index:
            console.rule()
        console.print(Group(_header(trace), _timeline(trace), _totals(trace)))
