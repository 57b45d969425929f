"""How much the log redaction processor costs per event.

    .venv/bin/python benchmarks/redaction.py

Prints events/s for a typical request event (no personal data, the common case)
and for one carrying an ID number, a phone number and a name in nested fields.
"""

from __future__ import annotations

import time

from gateway.observability.redaction import redaction_processor

TYPICAL = {
    "event": "http.request",
    "method": "POST",
    "path": "/v1/applications",
    "status": 202,
    "duration_ms": 13.7,
    "request_id": "c617b52626464f1d9cbef27b165ef945",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "application_id": "01a21b41-cd53-732c-9a86-927193170b9c",
    "region": "shenzhen",
}
PERSONAL = {
    **TYPICAL,
    "event": "adapter.debug",
    "applicant": {"name": "王小明", "id_number": "11010519491231002X", "phone": "13812345678"},
    "materials": [{"material_id": "id_card", "note": "证件号 11010519491231002X"}],
}


def rate(event: dict[str, object], seconds: float = 1.0) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(1000):
            redaction_processor(None, "info", dict(event))
        count += 1000
    return count / elapsed


if __name__ == "__main__":
    for name, event in (("typical request event", TYPICAL), ("event with personal data", PERSONAL)):
        per_second = rate(event)
        print(f"{name:<26} {per_second:>10,.0f} events/s  ({1e6 / per_second:.1f} µs/event)")
