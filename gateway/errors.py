"""The gateway's one exception tree.

Every error the gateway raises on purpose derives from `TongbanError`; foreign
exceptions (sqlite3, asyncpg, aiohttp, httpx) are translated at the layer that
meets them, with ``raise ... from exc``. Whether a failure is worth retrying is
part of the type, so callers decide from the class, not from message text::

    TongbanError
    ├── ConfigError                 settings file or environment invalid
    ├── StoreError                  storage layer
    │   ├── StoreUnavailable        database unreachable or locked; transient
    │   ├── UniqueViolation         a unique index refused a row (idempotency)
    │   └── MigrationError          schema migrations cannot be applied
    └── SecurityError               keys, signatures, partner authentication
        ├── KeyStoreError           gateway key ring missing, unreadable or wrong passphrase
        └── SignatureError          a message signature or digest does not verify (.check)

Later packages add their branches here (catalogue, applications, adapters).
Context travels as attributes, never only inside the message.
"""

from __future__ import annotations


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
