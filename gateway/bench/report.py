"""One measured row, its ratios to its baseline, and the table and JSON of a run."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gateway.bench.loadgen import LoadResult

__all__ = ["COLUMNS", "Row", "markdown_table", "measured", "print_table", "write_json"]

COLUMNS = (
    "name", "target", "baseline", "rate", "requests", "statuses", "errors", "throughput",
    "p50_ms", "p95_ms", "p99_ms", "cpu_s", "peak_rss_mb", "throughput_ratio",
    "p50_ratio", "p99_ratio", "added_p99_ms", "note",
)  # fmt: skip


@dataclass
class Row:
    """A measured scenario or baseline: medians over runs, percentiles over all requests.

    `rate` is the offered load of an open-loop row (requests/s; None: closed loop),
    whose latencies run from each request's scheduled time. `added_p99_ms` is this
    row's p99 minus its baseline's, filled only when both ran open-loop at the same
    rate (the added latency over the baseline at that load).
    """

    name: str
    target: str
    baseline: str | None = None
    rate: float | None = None
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    throughput: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    throughput_ratio: float | None = None
    p50_ratio: float | None = None
    p99_ratio: float | None = None
    added_p99_ms: float | None = None
    note: str = ""

    def compare(self, base: Row | None) -> None:
        """Fill the ratios to `base` (its name becomes this row's baseline)."""
        if base is None or base.throughput is None:
            return
        self.baseline = base.name
        self.throughput_ratio = _ratio(self.throughput, base.throughput)
        self.p50_ratio = _ratio(self.p50_ms, base.p50_ms)
        self.p99_ratio = _ratio(self.p99_ms, base.p99_ms)
        if (
            self.rate is not None
            and self.rate == base.rate
            and self.p99_ms is not None
            and base.p99_ms is not None
        ):
            self.added_p99_ms = round(self.p99_ms - base.p99_ms, 2)


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else round(value / base, 2)


def measured(
    name: str,
    target: str,
    runs: list[LoadResult],
    cpu: list[float],
    rss: float | None,
    rate: float | None = None,
) -> Row:
    """A row from the load results of every run, and the server's CPU per run;
    `rate` for an open-loop row (its note then says how late the client sent)."""
    latencies = sorted(t for run in runs for t in run.latencies)
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for run in runs:
        for status, n in run.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
        for error, n in run.errors.items():
            errors[error] = errors.get(error, 0) + n
    row = Row(name, target, rate=rate, requests=len(latencies), statuses=statuses, errors=errors)
    lags = sorted(t for run in runs for t in run.lags)
    if lags:
        row.note = (
            f"open loop at {rate:g}/s; sent late by p50 {_percentile(lags, 0.5) * 1000:.2f} ms, "
            f"p99 {_percentile(lags, 0.99) * 1000:.2f} ms"
        )
    if runs:
        row.throughput = round(statistics.median(run.throughput for run in runs), 1)
    if latencies:
        row.p50_ms, row.p95_ms, row.p99_ms = (
            round(_percentile(latencies, q) * 1000, 2) for q in (0.50, 0.95, 0.99)
        )
    if cpu:
        row.cpu_s = round(statistics.median(cpu), 2)
    row.peak_rss_mb = None if rss is None else round(rss, 1)
    return row


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}{suffix}" if value >= 10 else f"{value:.2f}{suffix}"
    return f"{value}{suffix}"


def print_table(rows: list[Row], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    for heading in (
        "row", "target", "req/s", "p50 ms", "p95 ms", "p99 ms", "CPU s", "peak RSS MB",
        "vs baseline", "req/s ×", "p50 ×", "p99 ×", "p99 + ms", "answers",
    ):  # fmt: skip
        table.add_column(heading, justify="left" if heading in ("row", "target") else "right")
    for row in rows:
        answers = " ".join(f"{k}:{v}" for k, v in sorted(row.statuses.items()))
        if row.errors:
            answers += " " + " ".join(f"{k}:{v}" for k, v in row.errors.items())
        table.add_row(
            row.name, row.target, _cell(row.throughput), _cell(row.p50_ms), _cell(row.p95_ms),
            _cell(row.p99_ms), _cell(row.cpu_s), _cell(row.peak_rss_mb), row.baseline or "–",
            _cell(row.throughput_ratio), _cell(row.p50_ratio), _cell(row.p99_ratio),
            _cell(row.added_p99_ms), answers + (f" ({row.note})" if row.note else ""),
        )  # fmt: skip
    (console or Console()).print(table)


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table (for the README)."""
    headings = (
        "row", "req/s", "p50 ms", "p95 ms", "p99 ms", "CPU s", "peak RSS MB", "vs",
        "req/s ×", "p50 ×", "p99 ×", "p99 + ms", "answers",
    )  # fmt: skip
    lines = ["| " + " | ".join(headings) + " |", "|" + " --- |" * len(headings)]
    for row in rows:
        answers = " ".join(f"{k}:{v}" for k, v in sorted(row.statuses.items()))
        cells = [
            row.name, _cell(row.throughput), _cell(row.p50_ms), _cell(row.p95_ms),
            _cell(row.p99_ms), _cell(row.cpu_s), _cell(row.peak_rss_mb), row.baseline or "–",
            _cell(row.throughput_ratio), _cell(row.p50_ratio), _cell(row.p99_ratio),
            _cell(row.added_p99_ms), answers + (f" ({row.note})" if row.note else ""),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    document = {**meta, "columns": list(COLUMNS), "rows": [asdict(row) for row in rows]}
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
