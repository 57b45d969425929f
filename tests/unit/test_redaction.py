"""The log redaction processor: ID numbers, mobile numbers and names, in every field."""

from __future__ import annotations

import io
import json
from typing import Any

import structlog

from gateway.observability import configure_logging
from gateway.observability.redaction import mask_text, redact, redaction_processor

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"


def test_id_and_mobile_numbers_are_masked_inside_text() -> None:
    text = f"申请人{ID_NUMBER}，电话 {PHONE}，又 +86 13912345678"
    masked = mask_text(text)
    for raw in (ID_NUMBER, PHONE, "13912345678"):
        assert raw not in masked
    assert "110***********002X" in masked
    assert "138****5678" in masked


def test_numbers_inside_longer_runs_are_left_alone() -> None:
    digest = "a" + ID_NUMBER + "b"
    request_id = "0" * 32
    long_number = "1" * 25
    for value in (digest, request_id, long_number, "SZ20260131000001"):
        assert mask_text(value) == value


def test_every_field_is_covered_recursively_keys_and_integers_included() -> None:
    event: dict[str, Any] = {
        "event": f"lookup {PHONE}",
        "applicant": {"name": "王小明", "id_number": ID_NUMBER, "phones": [PHONE, 13912345678]},
        "contacts": ({"contact_name": "李四", "note": f"ID {ID_NUMBER}"},),
        ID_NUMBER: "as a key",
        "applicant_name": "欧阳娜娜",
        "count": 3,
        "ok": True,
        "ratio": 0.5,
        "item_name": "户口迁移",
    }
    result = redact(event)
    text = json.dumps(result, ensure_ascii=False)
    for raw in (PHONE, "13912345678", ID_NUMBER, "王小明", "李四", "欧阳娜娜"):
        assert raw not in text
    assert result["applicant"]["name"] == "王**"
    assert result["applicant_name"] == "欧***"
    assert result["contacts"][0]["contact_name"] == "李*"
    assert result["applicant"]["phones"] == ["138****5678", "139****5678"]
    assert (result["count"], result["ok"], result["ratio"]) == (3, True, 0.5)
    assert result["item_name"] == "户口迁移"  # not a person's name
    assert event["applicant"]["name"] == "王小明"  # the input is not changed


def test_the_processor_is_installed_before_the_renderer() -> None:
    saved = structlog.get_config()
    stream = io.StringIO()
    try:
        configure_logging("json", "info")
        processors = structlog.get_config()["processors"]
        assert processors.index(redaction_processor) == len(processors) - 2
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stream))
        structlog.get_logger("test").info("test.personal", phone=PHONE, name="王小明")
    finally:
        structlog.configure(**saved)
    line = json.loads(stream.getvalue())
    assert line["phone"] == "138****5678"
    assert line["name"] == "王**"
