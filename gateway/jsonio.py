"""The one way the gateway reads and writes JSON it exchanges with others.

`load_json` parses every JSON document that comes from outside: partner request
bodies, region callbacks (before their signature is checked) and region answers.
It is strict and bounded, so no input can cost more than its size or crash a
handler: a document larger than `max_bytes`, nested deeper than `max_depth`, not
UTF-8, with a repeated member name, ``NaN``/``Infinity``, an integer outside the
64-bit range every store column holds, or a float that overflows is refused with
`JsonRefused`, whose ``check`` names the rule and ``detail_zh`` says it in Chinese.

`dumps` writes JSON as UTF-8 text with Chinese as is (never ``\\u7075`` escapes).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

MAX_DEPTH = 32
"""Nesting levels (objects and arrays) a document may have; ours need fewer than ten."""
_INT_RANGE = range(-(2**63), 2**63)

_DETAILS_ZH = {
    "too_large": "JSON 内容超过网关接受的大小",
    "too_deep": "JSON 嵌套层数过多（最多 {max_depth} 层）",
    "not_utf8": "JSON 内容不是 UTF-8 编码",
    "malformed": "请求内容不是有效的 JSON",
    "duplicate_member": "JSON 对象中有重复的字段名",
    "non_finite_number": "JSON 中不允许 NaN 或 Infinity",
    "number_out_of_range": "JSON 中的数字超出允许范围",
}


class JsonRefused(ValueError):
    """A JSON document broke one of `load_json`'s rules; ``check`` names which."""

    def __init__(self, check: str, detail_zh: str) -> None:
        self.check = check
        self.detail_zh = detail_zh
        super().__init__(f"{check}: {detail_zh}")


def _refuse(check: str, **values: Any) -> JsonRefused:
    return JsonRefused(check, _DETAILS_ZH[check].format(**values))


def load_json(raw: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document from outside, within the limits; `JsonRefused` otherwise."""
    if len(raw) > max_bytes:
        raise _refuse("too_large")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse("not_utf8") from None
    try:
        value = json.loads(raw, object_pairs_hook=_object, parse_constant=_constant)
    except RecursionError:
        # The C scanner recurses per level; `_check_tree` sets the real bound.
        raise _refuse("too_deep", max_depth=max_depth) from None
    except JsonRefused:
        raise
    except ValueError:  # also int() past Python's 4,300-digit limit
        raise _refuse("malformed") from None
    _check_tree(value, max_depth)
    return value


def dumps(value: Any) -> str:
    """Compact JSON text, Chinese as is; what every JSON response body is made of."""
    return dumps_bytes(value).decode("utf-8")


def dumps_bytes(value: Any) -> bytes:
    """`dumps` as UTF-8 bytes, through orjson (hot: every response body).

    What orjson refuses (an integer past 64 bits, a key that is no str/int/float)
    goes through the json module instead, so nothing that encoded before fails now.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _refuse("duplicate_member")
    return document


def _constant(text: str) -> Any:
    raise _refuse("non_finite_number")


def _check_tree(value: Any, max_depth: int) -> None:
    """Depth and number range in one iterative walk (no recursion, whatever the input)."""
    stack: list[tuple[Any, int]] = [([value], 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _refuse("too_deep", max_depth=max_depth)
        for child in node.values() if isinstance(node, dict) else node:
            kind = type(child)
            if kind is int:
                if child not in _INT_RANGE:
                    raise _refuse("number_out_of_range")
            elif kind is float:
                if not math.isfinite(child):
                    raise _refuse("number_out_of_range")
            elif kind is dict or kind is list:
                stack.append((child, depth + 1))
