"""`WriterTurns`: the SQLite writer's lock keeps arrival order, wakes its whole line
at once, and survives waiters cancelled in line or just after being woken."""

from __future__ import annotations

import asyncio

from gateway.store.turns import WriterTurns


async def _holder(turns: WriterTurns, name: str, log: list[str], *, hop: bool = False) -> None:
    await turns.acquire()
    try:
        log.append(name)
        if hop:  # holds the writer across an await, as BEGIN IMMEDIATE or COMMIT does
            await asyncio.sleep(0)
            await asyncio.sleep(0)
    finally:
        turns.release()


async def test_a_freed_turn_lets_the_whole_line_through_in_arrival_order() -> None:
    turns = WriterTurns()
    log: list[str] = []
    await turns.acquire()
    waiters = [asyncio.create_task(_holder(turns, f"t{n}", log)) for n in range(6)]
    await asyncio.sleep(0)  # all queued
    turns.release()
    await asyncio.sleep(0)  # one turn of the loop: none of them yields while holding
    assert log == [f"t{n}" for n in range(6)]
    await asyncio.gather(*waiters)
    assert not turns.locked()


async def test_a_holder_that_yields_keeps_the_others_in_their_places() -> None:
    turns = WriterTurns()
    log: list[str] = []
    await turns.acquire()
    tasks = [asyncio.create_task(_holder(turns, f"t{n}", log, hop=n in (0, 3))) for n in range(6)]
    await asyncio.sleep(0)
    turns.release()
    late = []
    for n in range(6, 9):  # newcomers while the line is being let through
        await asyncio.sleep(0)
        late.append(asyncio.create_task(_holder(turns, f"t{n}", log)))
    await asyncio.gather(*tasks, *late)
    assert log == [f"t{n}" for n in range(9)]
    assert not turns.locked()


async def test_cancelled_waiters_give_up_their_place_and_the_line_goes_on() -> None:
    turns = WriterTurns()
    log: list[str] = []
    await turns.acquire()
    tasks = [asyncio.create_task(_holder(turns, f"t{n}", log)) for n in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()  # cancelled while in line
    turns.release()
    tasks[2].cancel()  # cancelled after being woken, before it ran
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert log == ["t0", "t3"]
    assert [isinstance(r, asyncio.CancelledError) for r in results] == [False, True, True, False]
    await asyncio.wait_for(turns.acquire(), 1)  # free again
    turns.release()
