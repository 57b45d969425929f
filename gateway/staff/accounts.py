"""Staff accounts: who may sign in to the console, with which role, for which centre.

An account's id is its login name (also its audit actor, ``staff:<id>``). It
belongs to one service centre, a region key and the centre's name; that region is
the receiving region of everything the account submits. Passwords are stored as
argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended set).

`authenticate` counts wrong passwords: after ``max_failed_logins`` in a row the
account is locked for ``lockout_minutes``; a right password while locked is still
refused, so guessing on cannot open it. `set_password` clears the lock.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.config import ConsoleSettings
from gateway.errors import TongbanError
from gateway.store import Connection, Store

ACCOUNT_ID = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 iterations, 4 lanes


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the account does not exist, so an unknown name costs the
    # same time as a wrong password and does not reveal which accounts exist.
    return _hasher.hash("tongban-no-such-account")


class Role(StrEnum):
    """What an account may do: take applications, supervise a centre, run ops, administer."""

    STAFF = "staff"
    SUPERVISOR = "supervisor"
    OPS = "ops"
    ADMIN = "admin"

    @property
    def label_zh(self) -> str:
        return {"staff": "窗口人员", "supervisor": "主管", "ops": "运维", "admin": "管理员"}[
            self.value
        ]

    @property
    def sees_personal_data(self) -> bool:
        """Whether the case page may show this role the applicant's data in full."""
        return self in (Role.STAFF, Role.SUPERVISOR)

    @property
    def takes_applications(self) -> bool:
        return self in (Role.STAFF, Role.SUPERVISOR)


class AccountError(TongbanError):
    """A staff account cannot be created or changed as asked (message in Chinese)."""


@dataclass(frozen=True)
class Account:
    """One staff account, without its password hash."""

    id: str
    display_name: str
    role: Role
    centre_region: str
    centre_name: str
    disabled: bool
    locked_until: datetime | None

    @property
    def actor(self) -> str:
        """The account as an audit actor."""
        return f"staff:{self.id}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Account:
        locked = row["locked_until"]
        return cls(
            id=row["id"],
            display_name=row["display_name"],
            role=Role(row["role"]),
            centre_region=row["centre_region"],
            centre_name=row["centre_name"],
            disabled=bool(row["disabled"]),
            locked_until=datetime.fromisoformat(locked) if locked else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "role": self.role.value,
            "centre_region": self.centre_region,
            "centre_name": self.centre_name,
            "disabled": self.disabled,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
        }


@dataclass(frozen=True)
class SignIn:
    """What `authenticate` decided: the account, or why not (wrong, locked, disabled)."""

    account: Account | None
    refusal: str | None = None
    locked_until: datetime | None = None


def hash_password(password: str) -> str:
    """An argon2id hash of `password`; raises `AccountError` if it is too short."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD} 个字符")
    return _hasher.hash(password)


async def add(
    store: Store,
    account_id: str,
    *,
    password: str,
    role: Role,
    centre_region: str,
    centre_name: str,
    display_name: str | None,
    now: datetime,
) -> Account:
    """Create an account; raises `AccountError` for a bad or taken id or a short password."""
    if not ACCOUNT_ID.match(account_id):
        raise AccountError("账号应以小写字母开头，由2至40个小写字母、数字、点、下划线或连字符组成")
    if not centre_name.strip():
        raise AccountError("须填写所属服务中心名称")
    row = {
        "id": account_id,
        "display_name": (display_name or account_id).strip(),
        "role": role.value,
        "centre_region": centre_region,
        "centre_name": centre_name.strip(),
        "password_hash": await asyncio.to_thread(hash_password, password),
        "now": now.isoformat(),
    }
    async with store.transaction() as conn:
        if await _row(conn, account_id) is not None:
            raise AccountError(f"账号 {account_id} 已存在")
        await conn.execute(
            "INSERT INTO staff_accounts (id, display_name, role, centre_region, centre_name, "
            "password_hash, created_at, updated_at) VALUES (:id, :display_name, :role, "
            ":centre_region, :centre_name, :password_hash, :now, :now)",
            row,
        )
        created = await _row(conn, account_id)
    assert created is not None  # noqa: S101 - inserted just above
    return Account.from_row(created)


async def set_password(store: Store, account_id: str, password: str, *, now: datetime) -> None:
    """Set a new password and unlock the account; its open sessions end."""
    hashed = await asyncio.to_thread(hash_password, password)
    async with store.transaction() as conn:
        changed = await conn.execute(
            "UPDATE staff_accounts SET password_hash = :hash, failed_logins = 0, "
            "locked_until = NULL, updated_at = :now WHERE id = :id",
            {"hash": hashed, "now": now.isoformat(), "id": account_id},
        )
        if not changed:
            raise AccountError(f"没有账号 {account_id}")
        await conn.execute("DELETE FROM staff_sessions WHERE staff_id = :id", {"id": account_id})


async def disable(store: Store, account_id: str, *, now: datetime) -> None:
    """Disable an account; its open sessions end at once."""
    async with store.transaction() as conn:
        changed = await conn.execute(
            "UPDATE staff_accounts SET disabled = 1, updated_at = :now WHERE id = :id",
            {"now": now.isoformat(), "id": account_id},
        )
        if not changed:
            raise AccountError(f"没有账号 {account_id}")
        await conn.execute("DELETE FROM staff_sessions WHERE staff_id = :id", {"id": account_id})


async def list_all(store: Store) -> list[Account]:
    async with store.read() as conn:
        rows = await conn.fetch_all("SELECT * FROM staff_accounts ORDER BY id")
    return [Account.from_row(row) for row in rows]


async def get(conn: Connection, account_id: str) -> Account | None:
    row = await _row(conn, account_id)
    return None if row is None else Account.from_row(row)


async def authenticate(
    store: Store, account_id: str, password: str, *, now: datetime, rules: ConsoleSettings
) -> SignIn:
    """Check a sign-in, counting failures and locking the account after too many."""
    async with store.read() as conn:
        row = await _row(conn, account_id.strip().lower())
    if row is None:
        await asyncio.to_thread(_verify, None, password)
        return SignIn(None, "wrong")
    account = Account.from_row(row)
    if account.disabled:
        return SignIn(None, "disabled")
    if account.locked_until is not None and account.locked_until > now:
        return SignIn(None, "locked", account.locked_until)
    # argon2 costs ~50 ms of CPU: verified outside any transaction.
    if await asyncio.to_thread(_verify, row["password_hash"], password):
        async with store.transaction() as conn:
            await conn.execute(
                "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL WHERE id = :id",
                {"id": account.id},
            )
        return SignIn(account)
    async with store.transaction() as conn:
        current = await _row(conn, account.id)
        failures = (current["failed_logins"] if current else 0) + 1
        locked_until = None
        if failures >= rules.max_failed_logins:
            locked_until = now + timedelta(minutes=rules.lockout_minutes)
            failures = 0  # after the lock lapses, a fresh count begins
        await conn.execute(
            "UPDATE staff_accounts SET failed_logins = :n, locked_until = :until WHERE id = :id",
            {
                "n": failures,
                "until": locked_until.isoformat() if locked_until else None,
                "id": account.id,
            },
        )
    if locked_until is not None:
        return SignIn(None, "locked", locked_until)
    return SignIn(None, "wrong")


def _verify(hashed: str | None, password: str) -> bool:
    try:
        matched = _hasher.verify(hashed or _dummy_hash(), password)
        return hashed is not None and matched
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def _row(conn: Connection, account_id: str) -> dict[str, Any] | None:
    return await conn.fetch_one("SELECT * FROM staff_accounts WHERE id = :id", {"id": account_id})
