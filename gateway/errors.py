"""The gateway's one exception tree.

Every error the gateway raises on purpose derives from `TongbanError`; foreign
exceptions (sqlite3, asyncpg, aiohttp, httpx) are translated at the layer that
meets them, with ``raise ... from exc``. Whether a failure is worth retrying is
part of the type, so callers decide from the class, not from message text::

    TongbanError
    ├── ConfigError                 settings file or environment invalid
    ├── CatalogError                catalogue data invalid (names file, line, item, field)
    ├── StoreError                  storage layer
    │   ├── StoreUnavailable        database unreachable, locked, deadlock; transient
    │   ├── UniqueViolation         a unique index refused a row (idempotency)
    │   └── MigrationError          schema migrations cannot be applied
    └── SecurityError               keys, signatures, partner authentication
        ├── KeyStoreError           gateway key ring missing, unreadable or wrong passphrase
        └── SignatureError          a message signature or digest does not verify (.check)

Later packages add their branches here (catalogue, applications, adapters).
Context travels as attributes, never only inside the message.
"""

from __future__ import annotations

from dataclasses import dataclass


class TongbanError(Exception):
    """Root of every error the gateway raises deliberately."""


class ConfigError(TongbanError):
    """The settings file or the TONGBAN_* environment is invalid.

    ``problems`` holds one ``(key, message)`` pair per invalid setting, the key
    dotted as in the TOML file (``server.port``).
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {key}: {message}" for key, message in problems)
        super().__init__(f"invalid configuration ({source}):\n{lines}")


class StoreError(TongbanError):
    """A storage operation failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy; retrying later may succeed."""


class UniqueViolation(StoreError):
    """A unique constraint refused the write; ``constraint`` names it when known."""

    def __init__(self, message: str, constraint: str | None = None) -> None:
        self.constraint = constraint
        super().__init__(message)


class MigrationError(StoreError):
    """Schema migrations are missing, out of order or were edited after being applied."""


class CatalogError(TongbanError):
    """The catalogue data is invalid. ``problems`` lists every problem found."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"invalid catalogue ({len(problems)} problems):\n{shown}{more}")


@dataclass(frozen=True)
class CatalogProblem:
    """One problem in the catalogue data, located as precisely as known."""

    file: str
    message: str
    line: int | None = None
    item: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        what = " ".join(
            part
            for part in (
                f"item {self.item}" if self.item else "",
                f"field {self.field}" if self.field else "",
            )
            if part
        )
        return f"{where}: {what + ': ' if what else ''}{self.message}"


class SecurityError(TongbanError):
    """Keys, message signatures or partner authentication failed."""


class KeyStoreError(SecurityError):
    """The gateway key ring is missing, unreadable, or its passphrase is wrong."""


class SignatureError(SecurityError):
    """An HTTP message signature, its parameters or the body digest did not verify.

    ``check`` names the failed check with a stable code (``created_stale``,
    ``digest_mismatch``, ``key_unknown``...) that is safe to show the sender: it
    says what to fix and reveals no key material.
    """

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        super().__init__(message)
