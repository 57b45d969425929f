"""RFC 8785 (JCS) canonical JSON: the exact bytes an audit entry is hashed as.

General values go through the ``rfc8785`` package (Trail of Bits), except the
common shape every audit ``data`` has (objects, arrays, strings, safe integers,
booleans and null; no floats, no key outside the Basic Multilingual Plane): for
it RFC 8785 is orjson's sorted-key output, byte for byte (JCS escapes strings as
orjson does, and sorting by UTF-16 code unit equals sorting by code point within
the BMP; a test checks it against ``rfc8785``). An entry's
envelope has fixed ASCII keys and only strings, integers and null at its top
level, so `entry_bytes` assembles it directly around the already-canonical
``data`` text: the same bytes ``rfc8785.dumps`` would give (a test proves it),
several times faster, which matters when verifying millions of entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

import orjson
import rfc8785

from gateway.errors import InvalidAuditEntry

__all__ = [
    "ENTRY_COLUMNS",
    "ENTRY_FORMAT_VERSION",
    "canonical_json",
    "canonical_string",
    "entry_bytes",
    "entry_bytes_many",
]

ENTRY_FORMAT_VERSION = 1
"""The ``v`` field of every entry; bump it (and keep reading old ones) if the shape changes."""

_VERSION_TEXT = str(ENTRY_FORMAT_VERSION)

ENTRY_COLUMNS = (
    "seq", "time", "kind", "application_id", "request_id", "trace_id", "actor", "region",
    "data", "prev_hash",
)  # fmt: skip
"""The stored fields of an entry, in the order `entry_bytes_many` takes them."""
# Largest integer JSON carries exactly (I-JSON, RFC 7493), as RFC 8785 requires.
_MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """Serialise `value` as RFC 8785 canonical JSON (UTF-8).

    Raises `InvalidAuditEntry` for what JSON cannot carry exactly: NaN or
    infinite floats, integers beyond 2**53 - 1, non-string keys, lone surrogates,
    types other than dict, list, str, int, float, bool and None.
    """
    if _plain(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it by name below
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidAuditEntry(f"not canonical JSON: {exc}") from exc


# Deeper than any audit data; orjson itself stops at 254 levels.
_PLAIN_DEPTH = 64


def _plain(value: Any, depth: int) -> bool:
    """Whether `value` has only the shapes whose RFC 8785 form is orjson's sorted output:
    dict (str keys within the BMP), list, str, bool, None and integers within ±(2**53 - 1).
    Exact types only: a subclass, a float or anything else takes the general path."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        safe: bool = -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
        return safe
    if depth >= _PLAIN_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                return False
            if not _plain(item, depth + 1):
                return False
        return True
    if kind is list:
        return all(_plain(item, depth + 1) for item in value)
    return False


def canonical_string(value: str) -> str:
    """One JSON string in RFC 8785 form.

    JCS escapes exactly ``"``, ``\\`` and the C0 controls (``\\b \\t \\n \\f \\r``
    by name, the rest as lowercase ``\\u00xx``) and writes everything else as is:
    that is `json.dumps` with ``ensure_ascii=False``, whose string encoder this
    calls directly (a test checks it against ``rfc8785``).
    """
    result: str = encode_basestring(value)
    return result


def _string_or_null(value: str | None) -> str:
    return "null" if value is None else canonical_string(value)


def entry_bytes(fields: Mapping[str, Any]) -> bytes:
    """The canonical bytes of one entry, from its stored fields.

    `fields` holds ``seq``, ``time``, ``kind``, ``application_id``, ``request_id``,
    ``trace_id``, ``actor``, ``region``, ``prev_hash`` (32 bytes) and ``data``
    (the RFC 8785 text of the data object, as stored). Keys are written in
    RFC 8785 order (sorted by UTF-16 code unit; all ASCII here).
    """
    seq = fields["seq"]
    if type(seq) is not int or not 0 <= seq <= _MAX_SAFE_INTEGER:
        raise InvalidAuditEntry(f"seq must be an integer in [0, 2**53), not {seq!r}")
    # One join over locals, not nested helper calls: verification runs this a million
    # times. join, like +, refuses a non-str field (TypeError: malformed), as before.
    encode = encode_basestring
    application_id, region = fields["application_id"], fields["region"]
    request_id, trace_id = fields["request_id"], fields["trace_id"]
    text = "".join((
        '{"actor":', encode(fields["actor"]),
        ',"application_id":', "null" if application_id is None else encode(application_id),
        ',"data":', fields["data"],
        ',"kind":', encode(fields["kind"]),
        ',"prev":"', bytes(fields["prev_hash"]).hex(),
        '","region":', "null" if region is None else encode(region),
        ',"request_id":', "null" if request_id is None else encode(request_id),
        ',"seq":', str(seq),
        ',"time":', encode(fields["time"]),
        ',"trace_id":', "null" if trace_id is None else encode(trace_id),
        ',"v":', _VERSION_TEXT, "}",
    ))  # fmt: skip
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate in a field
        raise InvalidAuditEntry("entry fields must be valid Unicode") from exc


def entry_bytes_many(rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """The canonical bytes of many entries: `entry_bytes` of each, faster.

    Each row holds the stored fields in `ENTRY_COLUMNS` order (more columns after
    them are ignored). Exactly `entry_bytes` per row, one f-string each with no
    per-field calls but the string escapes; the type checks `entry_bytes` makes
    per field are made per column (``seq`` an int in range, ``data`` a str) or by
    the escaping itself (a non-str field raises TypeError). Raises as `entry_bytes`
    would for the first bad row (which one is not said: verify it alone to know).
    """
    if not rows:
        return []
    seqs, datas = [row[0] for row in rows], [row[8] for row in rows]
    if {*map(type, seqs)} != {int} or not 0 <= min(seqs) <= max(seqs) <= _MAX_SAFE_INTEGER:
        raise InvalidAuditEntry("seq must be an integer in [0, 2**53)")
    if {*map(type, datas)} != {str}:
        raise TypeError("data must be the stored JSON text")
    q = encode_basestring
    v = _VERSION_TEXT
    try:
        return [
            f'{{"actor":{q(actor)},'
            f'"application_id":{"null" if application_id is None else q(application_id)},'
            f'"data":{data},"kind":{q(kind)},"prev":"{bytes(prev).hex()}",'
            f'"region":{"null" if region is None else q(region)},'
            f'"request_id":{"null" if request_id is None else q(request_id)},'
            f'"seq":{seq},"time":{q(time)},'
            f'"trace_id":{"null" if trace_id is None else q(trace_id)},"v":{v}}}'.encode()
            for seq, time, kind, application_id, request_id, trace_id, actor, region, data, prev,
            *_ in rows
        ]  # fmt: skip
    except UnicodeEncodeError as exc:  # a lone surrogate in a field
        raise InvalidAuditEntry("entry fields must be valid Unicode") from exc
