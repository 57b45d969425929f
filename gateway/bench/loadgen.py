"""The load generator: HTTP/1.1 keep-alive clients in their own process.

A minimal client (asyncio streams, one request in flight per connection, bodies by
Content-Length or chunked) rather than aiohttp's: it spends a few microseconds per
request, so the bare-handler baseline shows what *it* can drive, and every other
figure sits well below that ceiling. Each request is signed (RFC 9421, as
`RequestSigner` signs for the reference client) when the plan carries a partner key.

Two ways to load (`Plan.rate`):

- closed loop (``rate`` 0): `concurrency` clients, each sending its next request as
  soon as the last is answered: throughput is what the server sustains; latency is
  from each send.
- open loop (``rate`` > 0): requests are sent on a fixed schedule, ``rate`` a
  second, whether or not earlier ones were answered, over up to `concurrency`
  connections (a request finding all of them busy waits for one). Each latency runs
  from the request's *scheduled* time, so time spent queueing (in the server, or
  for a connection, or behind a late client) is counted, not hidden: no coordinated
  omission. Each request is built and signed before its time comes; `LoadResult.lags`
  records how late each was actually sent (the client's own share of the latency).
  Requests still unanswered `OPEN_LOOP_GRACE` seconds after the schedule ends count
  as ``unanswered`` errors.

`run_load` runs a `Plan` in a spawned process and returns a `LoadResult`.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.security import RequestSigner, thumbprint

__all__ = ["OPEN_LOOP_GRACE", "LoadResult", "Plan", "run_load"]

OPEN_LOOP_GRACE = 10.0
"""Seconds an open-loop run waits, after its last scheduled send, for answers."""


@dataclass(frozen=True)
class Plan:
    """What one load process sends: `method` to `url`, for `duration` seconds.

    `kind` picks the body: ``intake`` (the template with a fresh applicant and
    Idempotency-Key per request, numbered from `first_number`), ``fixed`` (`body` as
    is) or ``none``. `partner_key` (raw Ed25519 private bytes) signs every request.
    `processes` load processes share `concurrency` (signing costs the client
    ~0.5 ms a request: one process signs ~1,300 requests/s on this machine).
    `rate` > 0 makes the load open-loop at that many requests a second (shared
    by the processes), `concurrency` then being the most connections open at once.
    """

    url: str
    method: str = "GET"
    kind: str = "none"
    body: bytes = b""
    content_type: str = "application/json"
    duration: float = 5.0
    concurrency: int = 16
    partner_key: bytes | None = None
    first_number: int = 0
    processes: int = 1
    rate: float = 0.0


@dataclass
class LoadResult:
    """What the load process saw: answers by status, latencies (s), elapsed wall time;
    open loop: also how late each request was sent after its scheduled time (s)."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


def resident_id(n: int) -> str:
    """A valid resident ID number, distinct for each applicant `n` < 240,000,000.

    Each area code holds 30,000,000 (a thousand a day, born 1930 to 2012): `--scenario
    all` takes 2,000,000 numbers per load, so it outgrew a single area (its later
    rows were refused 422, born in the future)."""
    from gateway.applications.identifiers import ric_check_char

    area, n = divmod(n, _PER_AREA)
    born = _EPOCH + timedelta(days=n // 1000)
    first17 = f"{_AREAS[area]}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + ric_check_char(first17)


_EPOCH = date(1930, 1, 1)
_PER_AREA = 30_000_000
# Shenzhen, Dongguan, Zhangjiagang, Guangzhou, Foshan, Zhuhai, Huizhou, Zhongshan.
_AREAS = ("440300", "441900", "320582", "440100", "440600", "440400", "441300", "442000")


class _Connection:
    """One keep-alive connection; `exchange` sends a request and reads its answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def exchange(self, head: bytes, body: bytes) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None  # noqa: S101 - set with the writer
        self._writer.write(head + body)
        status_line = await self._reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            while (size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
                await self._reader.readexactly(size + 2)
            await self._reader.readuntil(b"\r\n")
        elif length:
            await self._reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class _Requests:
    """Builds each request's bytes: path, headers (signed if a key is given) and body."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        parts = urlsplit(plan.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._signer: RequestSigner | None = None
        if plan.partner_key is not None:
            key = Ed25519PrivateKey.from_private_bytes(plan.partner_key)
            self._signer = RequestSigner(key, thumbprint(key.public_key()))
        self._template = json.loads(plan.body) if plan.kind == "intake" else None
        self._next = plan.first_number

    def build(self) -> tuple[bytes, bytes]:
        plan = self.plan
        headers: dict[str, str] = {}
        body = b""
        if plan.kind == "intake":
            number, self._next = self._next, self._next + 1
            assert self._template is not None  # noqa: S101 - set for intake
            self._template["applicant"]["id_number"] = resident_id(number)
            body = json.dumps(self._template, ensure_ascii=False).encode("utf-8")
            headers["Idempotency-Key"] = f"bench-{number}"
        elif plan.kind == "fixed":
            body = plan.body
        if body or plan.method == "POST":
            headers["Content-Type"] = plan.content_type
        if self._signer is not None:
            headers.update(self._signer(plan.method, plan.url, headers, body))
        lines = [f"{plan.method} {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


async def _drive(plan: Plan) -> LoadResult:
    result = LoadResult()
    requests = _Requests(plan)
    started = time.perf_counter()
    deadline = started + plan.duration

    async def client() -> None:
        connection = _Connection(requests.host, requests.port)
        try:
            while time.perf_counter() < deadline:
                head, body = requests.build()
                sent = time.perf_counter()
                try:
                    status = await connection.exchange(head, body)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.errors[type(exc).__name__] += 1
                    connection.close()
                    await asyncio.sleep(0.01)
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[status] += 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(plan.concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


async def _drive_open(plan: Plan) -> LoadResult:
    """Open loop: request n is sent at ``start + n / rate`` (see the module docstring)."""
    result = LoadResult()
    requests = _Requests(plan)
    slots = asyncio.Semaphore(plan.concurrency)
    idle: list[_Connection] = []
    last_answer = 0.0

    async def one(scheduled: float, head: bytes, body: bytes) -> None:
        nonlocal last_answer
        async with slots:
            connection = idle.pop() if idle else _Connection(requests.host, requests.port)
            try:
                status = await connection.exchange(head, body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                connection.close()
                return
            last_answer = time.perf_counter()
            result.latencies.append(last_answer - scheduled)
            result.statuses[status] += 1
            idle.append(connection)

    pending: set[asyncio.Task[None]] = set()
    interval = 1.0 / plan.rate
    started = time.perf_counter()
    count = int(plan.duration * plan.rate)
    for n in range(count):
        scheduled = started + n * interval
        head, body = requests.build()  # ahead of its time: signing is not the server's
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.lags.append(max(0.0, time.perf_counter() - scheduled))
        task = asyncio.create_task(one(scheduled, head, body))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        _, unanswered = await asyncio.wait(set(pending), timeout=OPEN_LOOP_GRACE)
        for task in unanswered:
            task.cancel()
            result.errors["unanswered"] += 1
        await asyncio.gather(*unanswered, return_exceptions=True)
    for connection in idle:
        connection.close()
    result.elapsed = max(plan.duration, last_answer - started)
    return result


def _child(plan: Plan, answer: Any) -> None:
    result = asyncio.run(_drive_open(plan) if plan.rate > 0 else _drive(plan))
    answer.send(
        (dict(result.statuses), result.latencies, result.elapsed, dict(result.errors),
         result.lags)
    )  # fmt: skip


def start_load(plan: Plan) -> list[tuple[Any, Any]]:
    """Start `plan` in `plan.processes` spawned processes; `finish_load` collects them."""
    context = multiprocessing.get_context("spawn")
    started = []
    share = max(1, plan.concurrency // plan.processes)
    for n in range(plan.processes):
        part = replace(
            plan, concurrency=share, first_number=plan.first_number + n * 100_000,
            rate=plan.rate / plan.processes,
        )  # fmt: skip
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(part, sender), daemon=True)
        process.start()
        started.append((process, receiver))
    return started


def finish_load(started: list[tuple[Any, Any]], timeout: float) -> LoadResult:
    """Wait for the load processes `start_load` started; their results together."""
    total = LoadResult()
    for process, receiver in started:
        if not receiver.poll(timeout):
            process.kill()
            raise TimeoutError("a load process did not finish")
        statuses, latencies, elapsed, errors, lags = receiver.recv()
        process.join(10)
        total.statuses.update(statuses)
        total.errors.update(errors)
        total.latencies.extend(latencies)
        total.lags.extend(lags)
        total.elapsed = max(total.elapsed, elapsed)
    return total


def run_load(plan: Plan) -> LoadResult:
    """Run `plan` in its own process(es) and wait for it."""
    return finish_load(start_load(plan), plan.duration + OPEN_LOOP_GRACE + 60)
