"""Staff accounts and console sessions (roles, centres, argon2id passwords, lockout)."""

from gateway.staff.accounts import Account, AccountError, Role, SignIn
from gateway.staff.sessions import Session

__all__ = ["Account", "AccountError", "Role", "Session", "SignIn"]
