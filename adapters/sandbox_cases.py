"""The simulated authority behind every region sandbox: cases, idempotency, review.

`SandboxCore` keeps the cases, deduplicates by idempotency key (the same delivery
twice is one case, ``times_submitted`` counts both), and simulates review: after
``review_delay`` seconds per step a case moves 受理 → 办理中 → 准予 / 不予, or to 补正
when a material is not provided, or to 不予受理 by the rules in `decide`.
``repeat_case_no`` simulates a region's numbering bug: every new submission is given
the case number of the one before (the first holder keeps the case). `follow_up`
applies 补正, 撤回 and 评价. Nothing here speaks HTTP: `adapters.sandbox` serves it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

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
