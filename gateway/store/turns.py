"""Turns on the SQLite writer: one holder at a time, in arrival order, woken together.

An `asyncio.Lock` wakes one waiter per release, and a woken task runs only in the
next turn of the event loop; so N transactions queued behind a COMMIT take N turns
of the loop to get through, each turn as long as everything else ready then (over
10 ms under a flood of submissions). A signed read (a case GET), whose nonce is a
one-row transaction, waited for that whole convoy, then for the COMMIT behind it.

Most logical transactions never yield while they hold the writer (their statements
run on the loop's thread: `InlineConnection`), so `WriterTurns` wakes every waiter
at once when the turn comes free: in the next turn of the loop they run one after
another, each finding the writer free as the previous one finishes. One that does
yield while holding it (opening a batch, the COMMIT) makes the others queue again,
as they resume, with the place they had. So the order stays arrival order: a
woken waiter takes the turn only if no one with an earlier place is waiting, and a
newcomer waits while anyone woken is still to run. No one is refused.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

__all__ = ["WriterTurns"]


class WriterTurns:
    """A lock whose waiters keep their place in line; a freed turn wakes them all."""

    def __init__(self) -> None:
        self._held = False
        self._queue: list[tuple[int, asyncio.Future[None]]] = []  # (place, waiter): a heap
        self._woken = 0  # woken by `_wake_all`, not resumed yet
        self._arrivals = itertools.count()

    def locked(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        """Wait for the turn; turns are taken in arrival order."""
        place = next(self._arrivals)
        if not self._held and not self._queue and not self._woken:
            self._held = True
            return
        loop = asyncio.get_running_loop()
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            heapq.heappush(self._queue, (place, waiter))
            if not self._held and not self._woken:
                self._wake_all()  # free, and no one woken is about to take it
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._woken -= 1  # woken, then cancelled before it ran: pass it on
                    if not self._held and not self._woken:
                        self._wake_all()
                elif (place, waiter) in self._queue:
                    self._queue.remove((place, waiter))
                    heapq.heapify(self._queue)
                raise
            self._woken -= 1
            if not self._held and (not self._queue or self._queue[0][0] > place):
                self._held = True
                return
            # Someone earlier took the turn, or is back in line: queue again, same place.

    def release(self) -> None:
        """Give the turn up; if no one woken is still to run, wake every waiter."""
        self._held = False
        if not self._woken:
            self._wake_all()

    def _wake_all(self) -> None:
        queue, self._queue = self._queue, []
        for _, waiter in sorted(queue, key=lambda entry: entry[0]):
            if not waiter.done():
                waiter.set_result(None)
                self._woken += 1
