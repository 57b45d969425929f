"""Small helpers for English text shown to people."""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 problem``, ``2 problems``, ``1,000 entries`` (pass `plural` when not noun + s)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
