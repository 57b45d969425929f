"""RFC 8785 canonical JSON: the published vectors, and the fast entry writer's equivalence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.canonical import (
    ENTRY_COLUMNS,
    canonical_json,
    canonical_string,
    entry_bytes,
    entry_bytes_many,
)
from gateway.errors import InvalidAuditEntry

# ../shared beside the repository root (CI provides it there too).
VECTORS = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "rfc8785"
NAMES = sorted(p.name for p in (VECTORS / "input").glob("*.json"))


def test_the_vectors_are_there() -> None:
    assert len(NAMES) >= 6


@pytest.mark.parametrize("name", NAMES)
def test_rfc8785_vector(name: str) -> None:
    value = json.loads((VECTORS / "input" / name).read_text(encoding="utf-8"))
    expected = (VECTORS / "output" / name).read_bytes().rstrip(b"\n")
    assert canonical_json(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53, {1: "x"}, b"bytes"])
def test_values_json_cannot_carry_exactly_are_refused(value: Any) -> None:
    with pytest.raises(InvalidAuditEntry):
        canonical_json(value)


@given(st.text())
def test_string_writer_matches_rfc8785(value: str) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:  # lone surrogates: refused either way
        return
    assert canonical_string(value).encode("utf-8") == expected


optional_text = st.none() | st.text()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@given(
    seq=st.integers(0, 2**53 - 1),
    time=st.text(),
    kind=st.text(),
    actor=st.text(),
    application_id=optional_text,
    request_id=optional_text,
    trace_id=optional_text,
    region=optional_text,
    data=st.dictionaries(st.text(), json_values, max_size=4),
    prev=st.binary(min_size=32, max_size=32),
)
def test_entry_writer_matches_rfc8785_of_the_whole_entry(
    seq: int,
    time: str,
    kind: str,
    actor: str,
    application_id: str | None,
    request_id: str | None,
    trace_id: str | None,
    region: str | None,
    data: dict[str, Any],
    prev: bytes,
) -> None:
    fields: dict[str, Any] = {
        "seq": seq, "time": time, "kind": kind, "actor": actor,
        "application_id": application_id, "request_id": request_id,
        "trace_id": trace_id, "region": region,
    }  # fmt: skip
    try:
        expected = rfc8785.dumps({**fields, "data": data, "prev": prev.hex(), "v": 1})
    except rfc8785.CanonicalizationError:
        return
    stored = {**fields, "data": canonical_json(data).decode("utf-8"), "prev_hash": prev}
    assert entry_bytes(stored) == expected


def test_entry_writer_refuses_a_seq_that_is_not_an_integer() -> None:
    fields = {"seq": True, "time": "t", "kind": "k", "actor": "a", "application_id": None,
              "request_id": None, "trace_id": None, "region": None, "data": "{}",
              "prev_hash": bytes(32)}  # fmt: skip
    with pytest.raises(InvalidAuditEntry):
        entry_bytes(fields)


stored_entries = st.fixed_dictionaries(
    {
        "seq": st.integers(0, 2**53 - 1), "time": st.text(), "kind": st.text(),
        "application_id": optional_text, "request_id": optional_text, "trace_id": optional_text,
        "actor": st.text(), "region": optional_text, "data": st.text(),
        "prev_hash": st.binary(min_size=32, max_size=32),
    }
)  # fmt: skip


@given(st.lists(stored_entries, max_size=5))
def test_many_entries_writer_gives_each_entrys_bytes(entries: list[dict[str, Any]]) -> None:
    """`entry_bytes_many` (verification's fast path) is `entry_bytes` of each, and
    refuses a batch exactly when `entry_bytes` refuses one of its entries."""
    rows = [(*(fields[name] for name in ENTRY_COLUMNS), b"leaf") for fields in entries]
    try:
        expected = [entry_bytes(fields) for fields in entries]
    except (InvalidAuditEntry, TypeError) as exc:
        with pytest.raises(type(exc)):
            entry_bytes_many(rows)
        return
    assert entry_bytes_many(rows) == expected


@pytest.mark.parametrize(
    ("column", "value"),
    [("seq", True), ("seq", 1.0), ("seq", -1), ("seq", 2**53), ("data", b"{}"),
     ("actor", b"a"), ("kind", 7), ("region", 1.5), ("time", None), ("actor", "\ud800")],
)  # fmt: skip
def test_many_entries_writer_refuses_what_the_entry_writer_refuses(column: str, value: Any) -> None:
    fields = {"seq": 1, "time": "t", "kind": "k", "actor": "a", "application_id": None,
              "request_id": None, "trace_id": None, "region": None, "data": "{}",
              "prev_hash": bytes(32)}  # fmt: skip
    good = tuple(fields[name] for name in ENTRY_COLUMNS)
    fields[column] = value
    with pytest.raises((InvalidAuditEntry, TypeError)):
        entry_bytes(fields)
    with pytest.raises((InvalidAuditEntry, TypeError)):
        entry_bytes_many([good, tuple(fields[name] for name in ENTRY_COLUMNS)])


# Keys and strings that tell the fast path (orjson, sorted keys) from RFC 8785 if it
# strayed: outside the BMP (UTF-16 order differs), controls, lone surrogates.
tricky_text = st.text() | st.sampled_from(
    ["\U0001f600", "\ue000", "\uffff", "\x7f", "\u2028", "\x00\x1f", "\ud800", "a\udfff", "é"]
)
plain_values = st.recursive(
    st.none() | st.booleans() | tricky_text
    | st.integers(-(2**53) + 1, 2**53 - 1) | st.sampled_from([2**53, -(2**53), 2**64, 0.5, -0.0]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=16,
)  # fmt: skip


@given(plain_values)
def test_canonical_json_is_rfc8785_or_refuses_as_it_does(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidAuditEntry):
            canonical_json(value)
        return
    except UnicodeEncodeError:  # rfc8785 sorting a lone-surrogate key: the same error
        with pytest.raises(UnicodeEncodeError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_canonical_json_of_deep_nesting_is_rfc8785() -> None:
    value: Any = "leaf"
    for depth in range(300):
        value = [value] if depth % 2 else {"k": value}
    assert canonical_json(value) == rfc8785.dumps(value)
