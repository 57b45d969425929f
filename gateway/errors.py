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
    ├── PluginError                 adapter plugins missing, duplicate or broken at start-up
    └── AdapterError                a region's adapter failed; ``.region`` names it
        ├── RegionUnavailable       transient: timeout, 5xx, busy, down; ``.retry_after`` if said
        ├── RegionRejected          permanent: the region refused; ``.code`` and ``.message``
        └── CallbackRejected        a pushed callback failed verification or parsing

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


class PluginError(TongbanError):
    """Adapter plugins cannot be loaded: one missing, two for one region, or one broken.

    Raised at start-up so a misconfigured installation fails boot, never a delivery later.
    """


class AdapterError(TongbanError):
    """A region adapter failed. Adapters raise only this branch, never foreign exceptions."""

    def __init__(self, region: str, message: str) -> None:
        self.region = region
        super().__init__(f"{region}: {message}")


class RegionUnavailable(AdapterError):
    """The region could not take the message now (timeout, connection, 5xx, busy, down).

    Transient: the same message may be retried. ``retry_after`` is the number of seconds
    the region asked us to wait, when it said so.
    """

    def __init__(self, region: str, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(region, message)


class RegionRejected(AdapterError):
    """The region refused the message for good; retrying the same message cannot succeed.

    ``code`` and ``message`` are the region's own (native) error code and text.
    """

    def __init__(self, region: str, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(region, f"rejected [{code}] {message}")


class CallbackRejected(AdapterError):
    """A result pushed by a region failed signature verification or could not be parsed.

    ``reason`` is a short stable word (``signature``, ``stale``, ``malformed``) for logs.
    """

    def __init__(self, region: str, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(region, f"callback refused ({reason}): {message}")
