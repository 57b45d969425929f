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
    └── AuditError                  audit log
        ├── InvalidAuditEntry       entry refused before it is written (shape, personal data)
        ├── ProofUnavailable        no proof for that position or size (not covered yet)
        └── AuditFileError          an export file or key file cannot be read

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


class AuditError(TongbanError):
    """The audit log refused or could not do something."""


class InvalidAuditEntry(AuditError):
    """An entry was refused before being written: bad shape, not JSON, or personal data.

    ``field`` names the offending field when known.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class ProofUnavailable(AuditError):
    """No proof can be given: the position or size is not covered by a checkpoint."""


class AuditFileError(AuditError):
    """An audit export or key file is missing, unreadable or malformed.

    ``path`` names the file, ``line`` the line number when known.
    """

    def __init__(self, message: str, path: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
