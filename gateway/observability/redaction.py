"""Masking personal data out of log events (and anything else headed for ops' eyes).

`redact` walks a value (dicts, lists and tuples recursively, keys included) and
masks, wherever they appear inside a string:

- resident ID numbers (18 characters, the last may be ``X``) → ``440***********123X``;
- mainland mobile numbers (``1[3-9]`` + 9 digits, optionally ``+86``) → ``138****5678``;

and, for members whose key names a person (``name``, ``applicant_name``,
``contact_name``...), the whole value → ``张*``. A number embedded in a longer run
of letters or digits (a hex digest, an id) is left alone; an integer shaped like
a phone number is masked too. Other objects are masked through their text only
when it holds such a number.

`redaction_processor` is the structlog processor `configure_logging` installs
just before rendering, so every field of every event is covered, tracebacks
included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from structlog.typing import EventDict, WrappedLogger

from gateway.applications.identifiers import mask_id_number, mask_name, mask_phone

__all__ = ["PERSON_NAME_KEYS", "mask_text", "redact", "redaction_processor"]

# Same boundaries as the audit log's refusal (gateway.audit.log): not inside a longer
# alphanumeric run, so hex digests and UUIDs pass untouched.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[- ]?)?(1[3-9]\d{9})(?![0-9A-Za-z])")

PERSON_NAME_KEYS = frozenset(
    {
        "name",
        "applicant_name",
        "contact_name",
        "agent_name",
        "person_name",
        "full_name",
        "real_name",
        "legal_representative",
    }
)
"""Keys whose string value is a person's name, masked whole."""

_MAX_DEPTH = 32


# Both shapes hold 11 digits in a row: one search rules most strings out cheaply.
_ELEVEN_DIGITS = re.compile(r"\d{11}")


def mask_text(text: str) -> str:
    """`text` with every ID-number- or mobile-shaped run masked."""
    # Too short, or no 11 digits in a row: holds neither (the common case, kept cheap).
    if len(text) < 11 or _ELEVEN_DIGITS.search(text) is None:
        return text
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    return _MOBILE.sub(lambda m: mask_phone(m.group(1)), text)


# Every log line goes through `redact`, so it is written for the common case: a
# flat dict of short strings and small numbers costs a few microseconds.
_SHORT_INT = 10**10  # |n| below it has at most 10 digits: no 11-digit run to mask


def redact(value: Any, *, key: Any = None, _depth: int = 0) -> Any:
    """A copy of `value` with personal data masked (see the module docstring).

    `key` is the member name `value` sits under, if any (names are masked by key).
    Containers come back as new dicts, lists and tuples; `value` is never changed.
    """
    return _redact(value, key, _depth)


def _redact(value: Any, key: Any, depth: int) -> Any:
    if isinstance(value, str):
        if value and isinstance(key, str) and key.lower() in PERSON_NAME_KEYS:
            return mask_name(value)
        # `mask_text`'s cheap test, inline: most strings hold no 11 digits in a row.
        if len(value) < 11 or _ELEVEN_DIGITS.search(value) is None:
            return value
        return mask_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if -_SHORT_INT < value < _SHORT_INT:
            return value
        text = str(value)
        masked = mask_text(text)
        return value if masked == text else masked
    if depth >= _MAX_DEPTH:
        return "<redacted: nested too deep>"
    below = depth + 1
    if isinstance(value, Mapping):
        return _redact_members(value, below)
    if isinstance(value, list | tuple):
        items = [_redact(item, key, below) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, BaseException):
        # Left for the traceback renderer (which `redact` sees after it in the chain).
        return value
    text = str(value)
    masked = mask_text(text)
    return value if masked == text else masked


def _redact_members(mapping: Mapping[Any, Any], depth: int) -> dict[Any, Any]:
    """`_redact` of each member of `mapping` (at `depth`), keys as text; scalars inline."""
    redacted = {}
    for member, item in mapping.items():
        kind = type(item)
        if kind is str:
            # A short string, not under a name key, holds nothing to mask.
            if len(item) >= 11 or (
                item and isinstance(member, str) and member.lower() in PERSON_NAME_KEYS
            ):
                item = _redact(item, member, depth)
        elif kind is int:
            if not -_SHORT_INT < item < _SHORT_INT:
                item = _redact(item, member, depth)
        elif not (item is None or kind is float or kind is bool):
            item = _redact(item, member, depth)
        if isinstance(member, str) and len(member) >= 11:
            member = mask_text(member)
        redacted[member] = item
    return redacted


def redaction_processor(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """structlog processor: every field of the event dict, redacted."""
    return _redact_members(event, 1)
