"""What every region sandbox shares: cases, idempotency, simulated review, faults.

A sandbox is a real aiohttp server speaking one region's native protocol (the
region's module renders and parses its messages); this module holds the part that
is the same everywhere:

- `SandboxCore` keeps the cases, deduplicates by idempotency key (the same delivery
  twice is one case, ``times_submitted`` counts both), and simulates review: after
  ``review_delay`` seconds per step a case moves 受理 → 办理中 → 准予 / 不予, or to 补正
  when a material is not provided, or to 不予受理 by the rules in `decide`.
- `fault_middleware` injects latency, transient errors (in the region's own form),
  responses lost *after* the case was created, and down windows.
- ``repeat_case_no`` simulates a region's numbering bug: every new submission is
  given the case number of the one before (the first holder keeps the case).
- `SandboxCore.seen` keeps the trace headers (``X-Request-ID``, ``traceparent``)
  of the latest business requests, so tests can check a trace reached the region.
- ``GET /_sandbox/cases`` lists the cases; ``POST /_sandbox/down?seconds=S`` starts a
  down window. Neither is subject to faults.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.base import AdapterSettings, validate_region_settings
from gateway.envelope import Status

log = structlog.get_logger("adapters.sandbox")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class SandboxOptions:
    """Behaviour of one sandbox run (the ``tongban sandbox`` flags)."""

    latency_ms: float = 0.0
    fault_rate: float = 0.0
    drop_response_rate: float = 0.0
    seed: int | None = None
    review_delay: float = 1.0
    callback_url: str | None = None
    repeat_case_no: bool = False
    origin_of: Callable[[Sequence[str | int]], str | None] | None = None
    """Where a setting was written (file and line, or variable), for a bad one's error."""


@dataclass(frozen=True)
class Review:
    """How the simulated authority will decide a submission (see `decide`)."""

    refuse_reason: str | None
    missing: tuple[str, ...]
    deny: bool


@dataclass
class CaseEvent:
    seq: int
    status: Status
    at: datetime
    message: str
    missing: tuple[str, ...] = ()


@dataclass
class SandboxCase:
    case_no: str
    idempotency_key: str
    application_id: str | None
    review: Review
    times_submitted: int = 1
    status: Status = Status.RECEIVED
    history: list[CaseEvent] = field(default_factory=list)
    rating: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "case_no": self.case_no,
            "idempotency_key": self.idempotency_key,
            "application_id": self.application_id,
            "times_submitted": self.times_submitted,
            "status": self.status.value,
            "history": [e.status.value for e in self.history],
            "rating": self.rating,
        }


class SandboxError(Exception):
    """A request the simulated region refuses; ``kind`` is invalid, not_found or conflict."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


def resident_id_valid(number: str) -> bool:
    """GB 11643-1999 check character (ISO 7064 MOD 11-2); lower-case x accepted."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def decide(
    materials: Mapping[str, bool], id_type: str, id_number: str, form: Mapping[str, Any]
) -> Review:
    """The sandbox's documented review rules (contracts/regions/*.md, "Simulated review").

    不予受理 when no material is provided at all, or the applicant's resident ID fails
    its check character; 补正 listing every material not provided; otherwise 准予,
    unless the form says ``"sandbox_decision": "deny"`` (不予).
    """
    refuse: str | None = None
    if not any(materials.values()):
        refuse = "未提交任何申请材料"
    elif id_type == "resident_id" and not resident_id_valid(id_number):
        refuse = "申请人身份证号码校验未通过"
    missing = tuple(m for m, provided in materials.items() if not provided)
    return Review(refuse, missing, form.get("sandbox_decision") == "deny")


def json_review(data: Mapping[str, Any]) -> Review:
    """`decide` for a submission in the camelCase JSON both JSON regions use:
    ``materials[].materialId/provided``, ``applicant.certType/certNo``, ``form``.

    Raises `KeyError` or `TypeError` for a submission missing one of them.
    """
    materials = {m["materialId"]: bool(m["provided"]) for m in data["materials"]}
    applicant = data["applicant"]
    return decide(materials, applicant["certType"], applicant["certNo"], data["form"])


OnEvent = Callable[[SandboxCase, CaseEvent], Awaitable[None]]


class SandboxCore:
    """The cases one sandbox holds and their simulated review."""

    def __init__(self, prefix: str, options: SandboxOptions, on_event: OnEvent | None) -> None:
        self.options = options
        self.cases: dict[str, SandboxCase] = {}
        self._by_key: dict[str, SandboxCase] = {}
        self._followups: dict[str, str] = {}
        self._prefix = prefix
        self._numbers = itertools.count(1)
        self._last_case_no: str | None = None
        self._events = itertools.count(1)
        self._on_event = on_event
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.random = random.Random(options.seed)  # noqa: S311 - fault simulation, not crypto
        self.down_until = 0.0
        self.seen: collections.deque[dict[str, str | None]] = collections.deque(maxlen=1000)

    def submit(
        self, idempotency_key: str, application_id: str | None, review: Review
    ) -> tuple[SandboxCase, bool]:
        """Create a case, or return the existing one for this key (``True`` = duplicate)."""
        existing = self._by_key.get(idempotency_key)
        if existing is not None:
            existing.times_submitted += 1
            return existing, True
        today = datetime.now(UTC).strftime("%Y%m%d")
        if self.options.repeat_case_no and self._last_case_no is not None:
            case_no = self._last_case_no
        else:
            case_no = f"{self._prefix}{today}{next(self._numbers):06d}"
        self._last_case_no = case_no
        case = SandboxCase(case_no, idempotency_key, application_id, review)
        self.cases.setdefault(case_no, case)
        self._by_key[idempotency_key] = case
        self._start(case, self._first_review(case))
        return case, False

    def supplement(self, case_no: str, idempotency_key: str, material_ids: list[str]) -> bool:
        """Take 补正 materials; resumes review once nothing is missing. True if a repeat."""
        case = self._case(case_no)
        if self._seen(idempotency_key, case_no):
            return True
        if case.status is not Status.SUPPLEMENT_REQUIRED:
            raise SandboxError("conflict", f"办件 {case_no} 当前状态不需要补正")
        still = tuple(m for m in case.review.missing if m not in material_ids)
        case.review = Review(None, still, case.review.deny)
        if not still:
            self._start(case, self._decide(case))
        return False

    async def withdraw(self, case_no: str, idempotency_key: str) -> bool:
        """撤回 before a decision; a conflict after one. True if a repeat."""
        case = self._case(case_no)
        if self._seen(idempotency_key, case_no):
            return True
        if case.status.is_final:
            raise SandboxError("conflict", f"办件 {case_no} 已办结，不能撤回")
        task = self._tasks.pop(case_no, None)
        if task is not None:
            task.cancel()
        await self._move(case, Status.WITHDRAWN, "申请人撤回")
        return False

    def rate(self, case_no: str, idempotency_key: str, level: int) -> bool:
        """好差评 once the case is decided. True if a repeat."""
        case = self._case(case_no)
        if self._seen(idempotency_key, case_no):
            return True
        if not case.status.is_final:
            raise SandboxError("conflict", f"办件 {case_no} 尚未办结，不能评价")
        case.rating = level
        return False

    def listing(self) -> list[dict[str, Any]]:
        return [case.as_json() for case in self._by_key.values()]

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _case(self, case_no: str) -> SandboxCase:
        case = self.cases.get(case_no)
        if case is None:
            raise SandboxError("not_found", f"办件 {case_no} 不存在")
        return case

    def _seen(self, idempotency_key: str, case_no: str) -> bool:
        if idempotency_key in self._followups:
            return True
        self._followups[idempotency_key] = case_no
        return False

    def _start(self, case: SandboxCase, step: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(step)
        self._tasks[case.case_no] = task
        task.add_done_callback(lambda _: self._tasks.pop(case.case_no, None))

    async def _first_review(self, case: SandboxCase) -> None:
        await asyncio.sleep(self.options.review_delay)
        if case.review.refuse_reason:
            await self._move(case, Status.REJECTED, case.review.refuse_reason)
        elif case.review.missing:
            await self._move(
                case, Status.SUPPLEMENT_REQUIRED, "材料不全，请补正", case.review.missing
            )
        else:
            await self._decide(case)

    async def _decide(self, case: SandboxCase) -> None:
        if case.status is Status.SUPPLEMENT_REQUIRED:
            await asyncio.sleep(self.options.review_delay)
        await self._move(case, Status.ACCEPTED, "已受理")
        await asyncio.sleep(self.options.review_delay)
        await self._move(case, Status.IN_REVIEW, "办理中")
        await asyncio.sleep(self.options.review_delay)
        if case.review.deny:
            await self._move(case, Status.DENIED, "不予许可：不符合法定条件")
        else:
            await self._move(case, Status.APPROVED, "准予许可")

    async def _move(
        self, case: SandboxCase, status: Status, message: str, missing: tuple[str, ...] = ()
    ) -> None:
        event = CaseEvent(next(self._events), status, datetime.now(UTC), message, missing)
        case.status = status
        case.history.append(event)
        log.info("sandbox.case_moved", case_no=case.case_no, status=status.value)
        if self._on_event is not None:
            await self._on_event(case, event)


FOLLOW_UPS = ("supplement", "withdrawal", "rating")
"""The follow-ups a region takes after a submission, named as `Envelope.kind` names them."""


async def follow_up(
    core: SandboxCore,
    kind: str,
    case_no: str,
    idempotency_key: str,
    *,
    material_ids: Sequence[str] = (),
    level: int | None = None,
) -> bool:
    """Apply one follow-up (`FOLLOW_UPS`) to `case_no`; True if it repeats one seen before.

    Raises `SandboxError` when the case refuses it, `ValueError` for an unknown kind
    or a rating without a level.
    """
    if kind == "supplement":
        return core.supplement(case_no, idempotency_key, list(material_ids))
    if kind == "withdrawal":
        return await core.withdraw(case_no, idempotency_key)
    if kind == "rating":
        if level is None:
            raise ValueError("a rating needs its level")
        return core.rate(case_no, idempotency_key, level)
    raise ValueError(f"unknown follow-up {kind!r}")


async def json_follow_up(core: SandboxCore, kind: str, data: Mapping[str, Any], key: str) -> str:
    """`follow_up` from the JSON both JSON regions use: ``caseNo``, the idempotency key
    in field `key`, ``materials[].materialId`` or ``level``; returns the case number.

    Raises `SandboxError`, or `KeyError` / `TypeError` / `ValueError` for a bad message.
    """
    case_no = str(data.get("caseNo", ""))
    ids = [m["materialId"] for m in data.get("materials", [])] if kind == "supplement" else []
    level = int(data["level"]) if kind == "rating" else None
    await follow_up(core, kind, case_no, data[key], material_ids=ids, level=level)
    return case_no


FollowUpHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def add_follow_up_routes(
    routes: web.RouteTableDef, paths: Mapping[str, str], handle: FollowUpHandler
) -> None:
    """``POST paths[kind]`` for each of `FOLLOW_UPS`, answered by ``handle(request, kind)``."""
    for kind in FOLLOW_UPS:

        async def route(request: web.Request, kind: str = kind) -> web.StreamResponse:
            return await handle(request, kind)

        routes.post(paths[kind])(route)


class Nonces:
    """The nonces a signed protocol has seen: a repeated one is a replayed request."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first_use(self, nonce: str) -> bool:
        """True the first time `nonce` is seen, False (a replay) every time after."""
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        return True


TransientReply = Callable[[str], web.Response]
"""Renders the region's own "busy / down" answer for a message."""

_SANDBOX_PREFIX = "/_sandbox/"


def fault_middleware(core: SandboxCore, transient: TransientReply) -> Any:
    """Latency, transient errors, lost responses and down windows for business routes."""

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_SANDBOX_PREFIX):
            return await handler(request)
        # Recorded before any fault: a region that is down still saw the request arrive.
        core.seen.append(
            {
                "path": request.path,
                "request_id": request.headers.get("X-Request-ID"),
                "traceparent": request.headers.get("traceparent"),
            }
        )
        options = core.options
        if time.monotonic() < core.down_until:
            return transient("系统维护中")
        if options.latency_ms:
            await asyncio.sleep(options.latency_ms / 1000)
        if options.fault_rate and core.random.random() < options.fault_rate:
            return transient("系统繁忙，请稍后重试")
        response = await handler(request)
        if options.drop_response_rate and core.random.random() < options.drop_response_rate:
            # The work is done (the case exists); the caller never hears of it.
            log.info("sandbox.response_dropped", path=request.path)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return response

    return faults


CORE = web.AppKey("sandbox_core", SandboxCore)
SETTINGS = web.AppKey("sandbox_settings", AdapterSettings)
"""The region's settings the sandbox runs with (``tongban sandbox`` listens on its url's port)."""

SettingsT = TypeVar("SettingsT", bound=AdapterSettings)


def sandbox_settings(
    model: type[SettingsT], region: str, table: Mapping[str, Any], options: SandboxOptions
) -> SettingsT:
    """The ``[adapters.REGION]`` table the sandbox shares with the adapter, validated by the
    region's model (demo defaults included); `ConfigError` naming a bad key and where."""
    return validate_region_settings(model, region, table, options.origin_of)


class Pusher:
    """The region's side of callbacks: one client session, retries per result."""

    UNREACHABLE_SECONDS = 15.0

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, data: bytes, headers: dict[str, str]) -> bytes | None:
        """POST a result; the response body once the receiver took it (2xx), else None."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        # A refusal is retried briefly; a gateway that does not answer at all (restarting)
        # for up to UNREACHABLE_SECONDS, as a region's system keeps a result to push.
        refusals, attempt = 0, 0
        give_up_at = time.monotonic() + self.UNREACHABLE_SECONDS
        while refusals < 3 and time.monotonic() < give_up_at:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with self._session.post(url, data=data, headers=headers) as response:
                    body = await response.read()
                    if response.status < 300:
                        return body
                    refusals += 1
                    log.warning("sandbox.push_refused", url=url, status=response.status)
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            attempt += 1
        log.warning("sandbox.push_failed", url=url)
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def sandbox_app(
    core: SandboxCore,
    routes: web.RouteTableDef,
    transient: TransientReply,
    settings: AdapterSettings,
    pusher: Pusher | None = None,
) -> web.Application:
    """An aiohttp app: the region's `routes`, faults, and the ``/_sandbox`` routes."""
    app = web.Application(middlewares=[fault_middleware(core, transient)])
    app[CORE] = core
    app[SETTINGS] = settings
    app.router.add_routes(routes)

    async def list_cases(request: web.Request) -> web.Response:
        return web.json_response({"cases": request.app[CORE].listing()})

    async def go_down(request: web.Request) -> web.Response:
        seconds = float(request.query.get("seconds", "5"))
        request.app[CORE].down_until = time.monotonic() + seconds
        return web.json_response({"down_for": seconds})

    app.router.add_get("/_sandbox/cases", list_cases)
    app.router.add_post("/_sandbox/down", go_down)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        yield
        await core.aclose()
        if pusher is not None:
            await pusher.aclose()

    app.cleanup_ctx.append(lifecycle)
    return app
