"""Console sessions, kept in the store so several gateway processes share them.

The cookie holds a random token; the store keeps only its SHA-256, with the
account, a CSRF token for the session's forms and when it was last used. A
session unused for ``idle_minutes`` is over; so is every session of an account
that is disabled or gets a new password (those delete the rows).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.staff import accounts
from gateway.staff.accounts import Account
from gateway.store import Store

# Writing last_seen_at on every page would make each read a write: once a minute is enough.
_TOUCH_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Session:
    """A live session: whose it is and the CSRF token its forms must carry."""

    account: Account
    csrf_token: str
    token_hash: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


async def open_session(store: Store, account: Account, *, now: datetime) -> str:
    """Start a session for `account`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO staff_sessions (token_hash, staff_id, csrf_token, created_at, "
            "last_seen_at) VALUES (:hash, :staff, :csrf, :now, :now)",
            {
                "hash": _hash(token),
                "staff": account.id,
                "csrf": secrets.token_urlsafe(32),
                "now": now.isoformat(),
            },
        )
    return token


async def find(
    store: Store, token: str, *, now: datetime, idle: timedelta, touch: bool = True
) -> Session | None:
    """The live session for `token`, or None (unknown, idle too long, account disabled).

    An idle session is deleted when found; a live one has its last use moved on,
    unless `touch` is False (a page polling by itself is not the clerk's activity).
    """
    token_hash = _hash(token)
    async with store.transaction() as conn:
        row = await conn.fetch_one(
            "SELECT staff_id, csrf_token, last_seen_at FROM staff_sessions "
            "WHERE token_hash = :hash",
            {"hash": token_hash},
        )
        if row is None:
            return None
        last_seen = datetime.fromisoformat(row["last_seen_at"])
        account = await accounts.get(conn, row["staff_id"])
        if account is None or account.disabled or now - last_seen > idle:
            await conn.execute(
                "DELETE FROM staff_sessions WHERE token_hash = :hash", {"hash": token_hash}
            )
            return None
        if touch and now - last_seen > _TOUCH_AFTER:
            await conn.execute(
                "UPDATE staff_sessions SET last_seen_at = :now WHERE token_hash = :hash",
                {"now": now.isoformat(), "hash": token_hash},
            )
    return Session(account, row["csrf_token"], token_hash)


async def close(store: Store, token: str) -> None:
    """End the session for `token` (sign out)."""
    async with store.transaction() as conn:
        await conn.execute(
            "DELETE FROM staff_sessions WHERE token_hash = :hash", {"hash": _hash(token)}
        )
