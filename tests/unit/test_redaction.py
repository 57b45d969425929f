"""The log redaction processor: ID numbers, mobile numbers and names, in every field."""

from __future__ import annotations

import io
import json
from typing import Any

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.applications.identifiers import mask_name
from gateway.observability import configure_logging
from gateway.observability.redaction import (
    PERSON_NAME_KEYS,
    mask_text,
    redact,
    redaction_processor,
)

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


# -- the fast path is the plain walk -------------------------------------------------


def _plain_redact(value: Any, key: Any = None, depth: int = 0) -> Any:
    """The walk as the module docstring states it, written plainly (the oracle)."""
    if isinstance(value, str):
        if isinstance(key, str) and key.lower() in PERSON_NAME_KEYS and value:
            return mask_name(value)
        return mask_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if mask_text(str(value)) == str(value) else mask_text(str(value))
    if depth >= 32:
        return "<redacted: nested too deep>"
    if isinstance(value, dict):
        return {
            (_plain_redact(k, None, depth + 1) if isinstance(k, str) else k): _plain_redact(
                v, k, depth + 1
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        items = [_plain_redact(item, key, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    text = str(value)
    return value if mask_text(text) == text else mask_text(text)


_PERSONAL_TEXT = st.sampled_from(
    [ID_NUMBER, PHONE, "+86 13912345678", "张三", "", "x" * 11, "1" * 11, "1" * 10, "12345678901"]
)
_TEXT = st.one_of(_PERSONAL_TEXT, st.text(max_size=30), _PERSONAL_TEXT.map(lambda t: f"号{t}。"))
_KEYS = st.one_of(_TEXT, st.sampled_from([*sorted(PERSON_NAME_KEYS), "Name", "APPLICANT_NAME"]))
_SCALARS = st.one_of(
    _TEXT,
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.integers(min_value=-(10**19), max_value=10**19),
    st.sampled_from([13812345678, -13812345678, 9_999_999_999, 10**10, -(10**10)]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(_KEYS, st.integers(0, 3)), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_redaction_equals_the_plain_walk(event: dict[Any, Any]) -> None:
    assert redaction_processor(None, "info", dict(event)) == _plain_redact(event)
    assert redact(event) == _plain_redact(event)
    for value in event.values():
        assert redact(value, key="name") == _plain_redact(value, "name")
