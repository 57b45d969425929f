"""Why a delivery became a dead letter: words for the window clerk, detail for ops."""

from __future__ import annotations

from gateway.envelope import RegionAck
from gateway.errors import RegionRejected, UniqueViolation

# Categories an adapter may set on RegionRejected.category, in the clerk's words.
_CLERK_WORDS = {
    "maintenance": "对方系统维护",
    "materials": "材料校验失败",
    "signature": "签名失败",
    "duplicate": "对方系统已有此件",
    "not_allowed": "对方不受理此事项",
    "webhook": "合作方回调地址拒收状态通知",
}


def rejected_reason(exc: RegionRejected) -> tuple[str, str]:
    """(clerk text, ops detail) for a permanent refusal by the region."""
    category = getattr(exc, "category", None)
    words = _CLERK_WORDS.get(category or "", "对方系统拒收")
    return f"{words}（{exc.message}）" if exc.message else words, _detail(exc)


def exhausted_reason(exc: BaseException, give_up: str) -> tuple[str, str]:
    """(clerk text, ops detail) when retries ran out on a transient failure."""
    return "对方系统维护或暂不可用，多次重试未成功", f"{give_up}; last error: {_detail(exc)}"


DUPLICATE_CASE_NO_ZH = "对方系统返回重复的受理编号"
UNSETTLED_ZH = "网关未能记录对方系统的答复，需人工核对"


def unsettled_reason(
    exc: BaseException, *, ack: RegionAck | None, region_error: BaseException | None
) -> tuple[str, str]:
    """(clerk text, ops detail) when the region answered but recording its answer failed.

    The detail keeps the region's answer (its case number, or its error), since the
    region is not asked again.
    """
    if isinstance(exc, UniqueViolation) and "region_case_no" in (exc.constraint or ""):
        words = DUPLICATE_CASE_NO_ZH
    else:
        words = UNSETTLED_ZH
    if ack is not None:
        answer = f"case {ack.region_case_no}" + (" (a repeat)" if ack.duplicate else "")
    elif region_error is not None:
        answer = _detail(region_error)
    else:
        answer = "no acknowledgement"
    return words, f"region answered: {answer}; not recorded: {_detail(exc)}"[:2000]


def _detail(exc: BaseException) -> str:
    parts = [type(exc).__name__]
    for name in ("region", "code", "http_status"):
        value = getattr(exc, name, None)
        if value is not None:
            parts.append(f"{name}={value}")
    message = str(exc)
    return " ".join(parts) + (f": {message}" if message else "")
