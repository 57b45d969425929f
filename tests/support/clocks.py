"""Clocks a test sets and moves, for code that takes a ``clock`` callable."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class SecondsClock:
    """Seconds since the epoch, like `time.time`; starts at the real time unless given."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class DateTimeClock:
    """An aware `datetime`, like ``datetime.now(UTC)``, that `advance` moves."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by ``timedelta(**delta)``, e.g. ``advance(hours=1)``."""
        self.now += timedelta(**delta)
