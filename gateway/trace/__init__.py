"""Trace by any ID: one timeline of what happened to a request, application or region case.

Modules: `timeline` (resolve an id, build the timeline from the store), `render`
(the rich table people read), `cli` (``tongban trace``). The REST route is
``GET /v1/trace/{id}`` in `gateway.api.trace`.
"""

from gateway.trace.timeline import ID_KINDS, find_trace, resolve

__all__ = ["ID_KINDS", "find_trace", "resolve"]
