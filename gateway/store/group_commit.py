"""Group commit: many small units of work share one transaction.

Settling a delivery is a handful of small writes (the delivery, its attempt, the
application's status, history and audit entry). Committed one by one, the commits
themselves cap the relay (one fsync each on SQLite; one audit lock each on
PostgreSQL). A `GroupCommitter` queues units and runs as many as are waiting in
one transaction; each caller still learns its own unit's result. If a batch fails,
its units are retried one per transaction, so one bad unit never sinks the others.

On SQLite the store itself group-commits (`gateway.store.sqlite`): a batch here is
one logical transaction, and it shares its COMMIT with intake's and every other
writer's. On PostgreSQL, where transactions run concurrently on the pool, the
batch is what saves the commits (and the audit append lock).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.store import Connection, Store

T = TypeVar("T")
Unit = Callable[[Connection], Awaitable[T]]


@dataclass
class _Queued(Generic[T]):
    work: Unit[T]
    result: asyncio.Future[T]


class GroupCommitter:
    """Runs units of work in shared transactions; start lazily, close with `aclose`."""

    def __init__(self, store: Store, *, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Queued[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def run(self, work: Unit[T]) -> T:
        """Run `work` inside a transaction (maybe shared); return once it is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="relay-group-commit")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Queued(work, future))
        return await future

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [item for item in batch if not item.result.done()]  # callers may be gone
            if live:
                await self._commit(live)

    async def _commit(self, batch: list[_Queued[Any]]) -> None:
        try:
            async with self._store.transaction() as conn:
                results = [await item.work(conn) for item in batch]
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].result, error=exc)
                return
            for item in batch:  # alone, so only the faulty unit fails
                await self._commit([item])
            return
        for item, result in zip(batch, results, strict=True):
            _settle(item.result, value=result)


def _settle(
    future: asyncio.Future[Any], *, value: Any = None, error: BaseException | None = None
) -> None:
    if future.done():  # the caller was cancelled (shutdown) after queueing
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
