"""Logging, request ids and error rendering shared by every route."""

from gateway.observability.logging import configure_logging
from gateway.observability.middleware import (
    REQUEST_ID_HEADER,
    new_request_id,
    problem_errors,
    request_context,
    request_id_of,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "configure_logging",
    "new_request_id",
    "problem_errors",
    "request_context",
    "request_id_of",
]
