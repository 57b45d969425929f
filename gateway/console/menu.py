"""The console's main menu: each role sees only the entries whose pages it may use.

The roles here are the ones the pages' own guards (`staff_page(...)`) admit; a test
opens every entry each role is shown (200) and every one it is not (403), so the
menu and the guards cannot drift apart unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.staff.accounts import Role

ALL = tuple(Role)
INTAKE = (Role.STAFF, Role.SUPERVISOR)  # search, item guides, the apply form
SUPERVISION = (Role.SUPERVISOR, Role.ADMIN)
OPERATIONS = (Role.OPS, Role.ADMIN)


@dataclass(frozen=True)
class Entry:
    label: str
    href: str
    roles: tuple[Role, ...]
    sections: tuple[str, ...]  # path prefixes under which the entry is the current page

    def current(self, path: str) -> bool:
        return path.startswith(self.sections)


ENTRIES = (
    Entry("收件", "/console/search", INTAKE, ("/console/search", "/console/items")),
    Entry("办件", "/console/cases", ALL, ("/console/cases",)),
    Entry("督办与统计", "/console/supervisor", SUPERVISION, ("/console/supervisor",)),
    Entry("运维", "/console/ops", OPERATIONS, ("/console/ops",)),
    Entry("账号管理", "/console/admin/accounts", (Role.ADMIN,), ("/console/admin",)),
)


def entries_for(role: Role) -> list[Entry]:
    """The menu entries `role` may use, in menu order."""
    return [entry for entry in ENTRIES if role in entry.roles]


def home_of(role: Role) -> str:
    """Where the console opens for `role`: its first task, not a page it may not use."""
    return {Role.OPS: "/console/ops", Role.ADMIN: "/console/admin/accounts"}.get(
        role, "/console/search"
    )
