"""The trace as people read it: a short header and one timeline table per application (rich).

By default, what a person reads first and what fits 80 columns: the case's status,
item, regions and due dates, then each step's time, what happened, who did it, its
outcome and the region's own message (已受理). ``verbose`` adds the ids, per-hop
times, gateway instance and the audit data (digests included); ``--json`` has all.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gateway.envelope import Status
from gateway.wording import counted

__all__ = ["render_trace"]

_OUTCOME_STYLE = {"delivered": "green", "rejected": "red", "unavailable": "yellow"}
_STATUS_STYLE = {
    "approved": "green",
    "delivered": "green",
    "denied": "red",
    "rejected": "red",
    "relay_failed": "red",
    "supplement_required": "yellow",
}
# What each audit kind is called in the short view.
_STEP = {
    "application.received": "received",
    "application.status_changed": "status",
    "application.withdrawn": "withdrawn",
    "application.supplement": "supplement",
    "application.rated": "rated",
    "application.region_event_ignored": "ignored",
}


def _time(value: str | None) -> str:
    """``2025-01-31T08:00:00.123Z`` → ``01-31 08:00:00.123`` (UTC, as stored)."""
    if not value:
        return "-"
    return value[5:10] + " " + value[11:23]


def _short_time(value: str | None) -> str:
    """``2025-01-31T08:00:00.123Z`` → ``01-31 08:00:00`` (UTC)."""
    return _time(value)[:14]


def _clip(text: str, cells: int = 48) -> str:
    """`text` cut to `cells` terminal cells with an ellipsis; --verbose shows it whole."""
    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, cells - 1).rstrip() + "…"


def _status(value: str | None) -> Text:
    """``accepted`` → ``accepted 受理``, coloured by what it means (words and colour both)."""
    if not value:
        return Text("")
    try:
        label = f"{value} {Status(value).label_zh}"
    except ValueError:
        label = value
    return Text(label, style=_STATUS_STYLE.get(value, ""))


def _due(trace: dict[str, Any]) -> str:
    due = trace["due"]
    text = f"promised {due['promised'] or '-'}, legal {due['legal'] or '-'}"
    if due["provisional"]:
        text += " (provisional: counted from acceptance)"
    if due["overdue"]:
        text += "  OVERDUE"
    return text


def _summary(trace: dict[str, Any]) -> Table:
    """What a person reads first about the case."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    applicant = trace["applicant"]
    who = [str(applicant[key]) for key in ("name", "id_number", "phone") if applicant.get(key)]
    rows: list[tuple[str, RenderableType]] = [
        ("application", trace["application_id"]),
        ("status", _status(trace["status"])),
        ("item", trace["item_code"]),
        ("regions", f"{trace['receiving_region']} → {trace['competent_region']}"),
        ("region case", trace["region_case_no"] or "-"),
        ("applicant", " ".join(who) or "-"),
        (
            "submitted",
            f"{trace['created_at'][:10]} {trace['created_at'][11:19]} UTC "
            f"by {trace['submitted_by']}",
        ),
        ("due", _due(trace)),
    ]
    if trace["supplement_due"]:
        rows.append(("supplement due", trace["supplement_due"]))
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _event_step(item: dict[str, Any]) -> tuple[RenderableType, ...]:
    return (
        item["at"],
        _STEP.get(item["kind"], item["kind"].removeprefix("application.")),
        item["actor"],
        _status(item["to_status"]),
        _clip(item["message"] or ""),
    )


def _attempt_step(item: dict[str, Any]) -> tuple[RenderableType, ...]:
    result = item["outcome"]
    code = item["http_status"] or item["region_code"]
    if code:
        result += f" ({code})"
    error = (item["error"] or "").removeprefix(f"{item['region']}: ")
    return (
        item["at"],
        f"{item['delivery_kind']} #{item['attempt']}",
        f"→ {item['region']}",
        Text(result, style=_OUTCOME_STYLE.get(item["outcome"], "red")),
        _clip(error),
    )


def _steps(trace: dict[str, Any]) -> Table:
    """The timeline with one short row per step; the date only where it changes."""
    table = Table(
        title="timeline (UTC)",
        title_justify="left",
        box=None,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("time", no_wrap=True, justify="right")
    table.add_column("step", no_wrap=True)
    table.add_column("who", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    day = None
    for item in trace["timeline"]:
        at, *rest = _event_step(item) if item["type"] == "event" else _attempt_step(item)
        moment = _short_time(str(at))
        table.add_row(moment if moment[:5] != day else moment[6:], *rest)
        day = moment[:5]
    return table


def _header(trace: dict[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    due_text = _due(trace)
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
    detail = "  ".join(part for part in (change, item["message"] or "", extra) if part)
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
    """The timeline with everything recorded: ids, hops, instances, audit data."""
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
        f"{counted(totals['attempts'], 'attempt')} ({totals['failed_attempts']} failed), "
        f"{counted(totals['deliveries'], 'delivery', 'deliveries')} "
        f"({counted(totals['dead_letters'], 'dead letter')}), "
        f"{totals['attempt_time_ms']:.1f} ms in region calls, "
        f"forwarded {'-' if forward is None else f'after {forward:.3f} s'}"
    )


def render_trace(result: dict[str, Any], console: Console, *, verbose: bool = False) -> None:
    """Print every application of `result` (from `find_trace`) to `console`.

    The short view by default; `verbose` prints every id, hop time and audit datum.
    """
    for index, trace in enumerate(result["applications"]):
        if index:
            console.rule()
        if verbose:
            console.print(Group(_header(trace), _timeline(trace), _totals(trace)))
        else:
            console.print(Group(_summary(trace), _steps(trace), _totals(trace)))
