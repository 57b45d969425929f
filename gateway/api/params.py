"""Query and path parameters: the one strict parser of whole numbers.

`whole_number` accepts only ASCII digits (Python's ``int`` also takes ``²``, ``①``,
full-width digits, signs, spaces and underscores), no more of them than the upper
bound has, and a value within the bounds, so no parameter can cost a big-integer
conversion or be echoed back absurdly large. Every route parses numbers with it.
"""

from __future__ import annotations

import re

MAX_INT64 = 2**63 - 1
"""The largest value a store column holds: the default upper bound."""


def whole_number(text: str, *, low: int = 0, high: int = MAX_INT64) -> int:
    """`text` as an int in ``[low, high]``; `ValueError` if it is anything else."""
    if not re.fullmatch(f"[0-9]{{1,{len(str(high))}}}", text):
        raise ValueError(f"not a whole number of at most {len(str(high))} digits")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"not between {low} and {high}")
    return value


def range_zh(low: int, high: int) -> str:
    """The Chinese phrase a refusal uses for the allowed range."""
    return f"应为 {low} 至 {high} 之间的整数"
