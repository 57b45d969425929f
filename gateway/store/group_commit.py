"""Group commit for a store whose transactions run side by side (PostgreSQL).

Many small units of work (settling a delivery: the delivery, its attempt, the
application's status, history and audit entry) committed one by one cap a writer:
on PostgreSQL each is a WAL flush, and each takes the audit append lock in turn.
A `GroupCommitter` queues units and runs as many as are waiting in one
transaction; each caller still learns its own unit's result, and only after the
COMMIT that holds it. If a batch fails, its units are run again one per
transaction, so one bad unit never sinks the others.

`PostgresStore.grouped` runs on one. The SQLite store needs none: its
`transaction()` already shares one COMMIT among every logical transaction that
finished meanwhile, each in a savepoint of its own (`gateway.store.sqlite`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.errors import StoreUnavailable
from gateway.store.base import Connection, Store

T = TypeVar("T")
Unit = Callable[[Connection], Coroutine[Any, Any, T]]


@dataclass
class _Queued(Generic[T]):
    work: Unit[T]
    result: asyncio.Future[T]
    context: contextvars.Context  # the caller's: its trace, its log context


class GroupCommitter:
    """Runs units of work in shared transactions of `store`; starts lazily, close
    with `aclose`."""

    def __init__(self, store: Store, *, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Queued[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._current: list[_Queued[Any]] = []  # the batch being committed

    async def run(self, work: Unit[T]) -> T:
        """Run `work` inside a transaction (maybe shared); return once it is committed."""
        if self._task is None or self._task.done():
            # A context of its own: not the first caller's trace for every later unit.
            self._task = asyncio.create_task(
                self._drain(), name="group-commit", context=contextvars.Context()
            )
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Queued(work, future, contextvars.copy_context()))
        return await future

    async def aclose(self) -> None:
        """Stop; a unit still waiting (or cut off mid-batch) fails with `StoreUnavailable`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        gone = StoreUnavailable("the store is closed")
        for item in self._current:
            _settle(item.result, error=gone)
        while not self._queue.empty():
            _settle(self._queue.get_nowait().result, error=gone)

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [item for item in batch if not item.result.done()]  # callers may be gone
            self._current = live
            if live:
                await self._commit(live)
            self._current = []

    async def _commit(self, batch: list[_Queued[Any]]) -> None:
        try:
            async with self._store.transaction() as conn:
                # Each unit in its caller's context, so its audit entries and log lines
                # carry the caller's trace (`bind_trace`).
                results = [
                    await asyncio.create_task(item.work(conn), context=item.context)
                    for item in batch
                ]
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
