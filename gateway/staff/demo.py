"""`tongban demo`: one console account per role, at the Songshan Lake centre, printed at start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.config import Settings
from gateway.staff import accounts
from gateway.staff.accounts import Role
from gateway.store import open_store

CENTRE_REGION = "dongguan"
CENTRE_NAME = "松山湖政务服务中心"


@dataclass(frozen=True)
class DemoAccount:
    id: str
    role: Role
    display_name: str
    password: str


# Demo-only credentials on a loopback demo; `tongban users passwd` changes them.
DEMO_ACCOUNTS = (
    DemoAccount("clerk", Role.STAFF, "陈窗口", "demo-staff-2026"),
    DemoAccount("supervisor", Role.SUPERVISOR, "林主管", "demo-supervisor-2026"),
    DemoAccount("ops", Role.OPS, "黄运维", "demo-ops-2026"),
    DemoAccount("admin", Role.ADMIN, "周管理", "demo-admin-2026"),
)


def seed_demo_accounts(settings: Settings) -> tuple[DemoAccount, ...]:
    """Create the demo accounts that do not exist yet (an existing one is left as it is)."""

    async def seed() -> None:
        store = await open_store(settings)
        try:
            existing = {account.id for account in await accounts.list_all(store)}
            for demo in DEMO_ACCOUNTS:
                if demo.id not in existing:
                    await accounts.add(
                        store,
                        demo.id,
                        password=demo.password,
                        role=demo.role,
                        centre_region=CENTRE_REGION,
                        centre_name=CENTRE_NAME,
                        display_name=demo.display_name,
                        now=datetime.now(UTC),
                    )
        finally:
            await store.aclose()

    asyncio.run(seed())
    return DEMO_ACCOUNTS


def describe(console_url: str, seeded: tuple[DemoAccount, ...]) -> str:
    """The lines `tongban demo` prints: the console URL and each demo account."""
    lines = [
        f"  console       {console_url}",
        f"  staff accounts ({CENTRE_NAME}, {CENTRE_REGION}):",
    ]
    lines += [
        f"    {demo.id:<11} {demo.role.value:<11} password {demo.password}" for demo in seeded
    ]
    return "\n".join(lines)
