"""A partner's system as the crash tests drive it, against a gateway that may die.

Every request is signed; each application goes under its own Idempotency-Key, and
whatever got no answer (the gateway died under it) is sent again as it was, same
key and same body, so the gateway must take it once. `submit_through_kills` runs
such a load around a test's own way of killing the gateway and bringing it back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.security import RequestSigner
from support.examples import example, example_files


@dataclass
class Submissions:
    """What the partner's submissions got, for a run's assertions and figures."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> application id
    retried_requests: int = 0
    unavailable: int = 0  # 503 answers (retried with the same key)
    started: float = field(default_factory=time.monotonic)


async def signed(
    session: aiohttp.ClientSession,
    signer: RequestSigner,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    headers = {**headers, **signer(method, url, headers, body)}
    async with session.request(method, url, data=body or None, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def upload_attachments(base_url: str, signer: RequestSigner) -> None:
    """The example files, each under its name as Idempotency-Key."""
    async with aiohttp.ClientSession() as session:
        for file in example_files():
            status, answer = await signed(
                session, signer, "POST", f"{base_url}/v1/attachments", file.content,
                {"Content-Type": file.media_type, "Idempotency-Key": file.name},
            )  # fmt: skip
            assert status in (200, 201), answer


async def submit_all(
    base_url: str,
    signer: RequestSigner,
    keys: list[str],
    run: Submissions,
    *,
    parallel: int,
    retry_unavailable: bool = False,
) -> list[str]:
    """Submit each key's application, `parallel` at a time; return the keys that got no
    answer. With `retry_unavailable`, a 503 (nothing stored) counts as no answer."""
    body = json.dumps(example(), ensure_ascii=False).encode()
    unanswered: list[str] = []
    limit = asyncio.Semaphore(parallel)

    async def one(session: aiohttp.ClientSession, key: str) -> None:
        async with limit:
            try:
                status, answer = await signed(
                    session, signer, "POST", f"{base_url}/v1/applications", body,
                    {"Content-Type": "application/json", "Idempotency-Key": key},
                )  # fmt: skip
            except (TimeoutError, aiohttp.ClientError):
                unanswered.append(key)
                return
            if status == 503 and retry_unavailable:
                run.unavailable += 1
                unanswered.append(key)
                return
            assert status in (200, 202), answer
            run.accepted[key] = answer["id"]

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(*(one(session, key) for key in keys))
    return unanswered


async def submit_through_kills(
    base_url: str,
    signer: RequestSigner,
    keys: list[str],
    run: Submissions,
    *,
    kills: int,
    kill: Callable[[], Awaitable[None]],
    recover: Callable[[], Awaitable[None]],
    parallel: int,
    retry_unavailable: bool = False,
) -> None:
    """Submit `keys` in ``kills + 1`` rounds. In each round but the last, `kill` the
    gateway while the round is being submitted and, once every request of the round
    has its answer or none, `recover`; the next round sends again what got none. At
    the end, what is still unanswered is sent again until every key has an answer."""

    async def submitting(batch: list[str]) -> list[str]:
        return await submit_all(
            base_url, signer, batch, run, parallel=parallel, retry_unavailable=retry_unavailable
        )

    chunks = [keys[i :: kills + 1] for i in range(kills + 1)]
    retry: list[str] = []
    for round_no, chunk in enumerate(chunks):
        round_ = asyncio.create_task(submitting(retry + chunk))
        if round_no < kills:
            await kill()
            retry = await round_
            run.retried_requests += len(retry)
            await recover()
        else:
            retry = await round_
    while retry:  # whatever the last kill left unanswered, sent again
        retry = await submitting(retry)
