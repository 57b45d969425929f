"""structlog, configured once per process.

Production writes one JSON object per line; the demo writes coloured, aligned text
for people. Context bound with `structlog.contextvars` (request id, trace id, application
id, region) is merged into every event. Just before rendering, `redaction_processor`
masks ID numbers, mobile numbers and names in every field (tracebacks included),
so personal data never reaches a log line unmasked.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import orjson
import structlog

from gateway.observability.redaction import redaction_processor

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _orjson_text(value: Any, **options: Any) -> str:
    """One JSON log line through orjson, Chinese as is (~5x json.dumps)."""
    return orjson.dumps(
        value, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS
    ).decode("utf-8")


def configure_logging(
    format: Literal["json", "console"] = "json",
    level: Literal["debug", "info", "warning", "error"] = "info",
) -> None:
    """Set structlog up for this process; call once at start-up."""
    renderer: structlog.typing.Processor
    if format == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_text)
    else:
        # Unsorted: the fields stay in the order the call gave them, and it is cheaper.
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), sort_keys=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks
            if format == "json"
            else structlog.dev.set_exc_info,
            redaction_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
