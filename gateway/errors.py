"""The gateway's one exception tree.

Every error the gateway raises on purpose derives from `TongbanError`; foreign
exceptions (sqlite3, asyncpg, aiohttp, httpx) are translated at the layer that
meets them, with ``raise ... from exc``. Whether a failure is worth retrying is
part of the type, so callers decide from the class, not from message text::

    TongbanError
    ├── ConfigError                 settings file or environment invalid
    ├── CatalogError                catalogue data invalid (names file, line, item, field)
    ├── CalendarError               holiday calendar files invalid (names file and line)
    ├── StoreError                  storage layer
    │   ├── StoreUnavailable        database unreachable, locked, deadlock; transient
    │   │   └── ConcurrentChange    another transaction changed the row first: run it again
    │   ├── UniqueViolation         a unique index refused a row (idempotency)
    │   └── MigrationError          schema migrations cannot be applied
    ├── SecurityError               keys, signatures, partner authentication
    │   ├── KeyStoreError           gateway key ring missing, unreadable or wrong passphrase
    │   └── SignatureError          a message signature or digest does not verify (.check)
    ├── ApplicationError            applications (办件)
    │   ├── InvalidApplication      bad fields; ``errors`` lists each one (422)
    │   ├── ApplicationNotFound     no application with that id (404)
    │   ├── ActionRefused           not possible in the case's state (409)
    │   │   └── TransitionRefused   the state machine refuses a status change
    │   └── IdempotencyConflict     an Idempotency-Key reused with another body (409)
    ├── IdentifierError             an ID number, credit code or phone fails its check
    ├── AttachmentError             an upload is refused (``status``: 413 or 415)
    ├── PiiError                    personal data cannot be decrypted (key, tamper)
    ├── PluginError                 adapter plugins missing, duplicate or broken at start-up
    ├── AdapterError                a region's adapter failed; ``.region`` names it
    │   ├── RegionUnavailable       transient: timeout, 5xx, busy, down; ``.retry_after`` if said
    │   │   └── RegionUnreachable   no answer at all: timeout, refused or dropped connection
    │   ├── RegionRejected          permanent: the region refused; ``.code`` and ``.message``
    │   └── CallbackRejected        a pushed callback failed verification or parsing
    └── AuditError                  audit log
        ├── InvalidAuditEntry       entry refused before it is written (shape, personal data)
        ├── ProofUnavailable        no proof for that position or size (not covered yet)
        └── AuditFileError          an export file or key file cannot be read

Context travels as attributes, never only inside the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.wording import counted


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


class ConcurrentChange(StoreUnavailable):
    """Another transaction changed a row between this one's read and its write
    (PostgreSQL, several connections or processes). This transaction rolls back
    whole; running it again reads the new state, like a serialization failure."""


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
        super().__init__(f"invalid catalogue ({counted(len(problems), 'problem')}):\n{shown}{more}")


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


class CalendarError(TongbanError):
    """Holiday calendar files are invalid. ``problems`` lists every problem found."""

    def __init__(self, problems: list[CalendarProblem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"invalid holiday calendar ({len(problems)} problems):\n{shown}{more}")


@dataclass(frozen=True)
class CalendarProblem:
    """One problem in a calendar file: the file, its line (when known) and what is wrong."""

    file: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file + (f":{self.line}" if self.line else "") + f": {self.message}"


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


class InvalidSignature(SecurityError):
    """A signature is malformed or does not verify (SM2: any bad DER, r, s, key or ID)."""


class DecryptionError(SecurityError):
    """A ciphertext is malformed, was tampered with, or is not for this key."""


class InvalidKey(SecurityError, ValueError):
    """Key material that cannot be used: malformed, off the curve, wrong type or passphrase."""


class CryptoUnavailable(SecurityError):
    """The library behind an algorithm is missing (SM2: the system OpenSSL 3)."""


class ApplicationError(TongbanError):
    """Something about an application (办件) is refused."""


@dataclass(frozen=True)
class FieldError:
    """One bad field: its dotted path, a Chinese message for the clerk, a stable code."""

    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


class InvalidApplication(ApplicationError):
    """The request has bad fields; ``errors`` lists every one found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class ApplicationNotFound(ApplicationError):
    """No application has ``application_id``."""

    def __init__(self, application_id: str) -> None:
        self.application_id = application_id
        super().__init__(f"no application {application_id!r}")


class ActionRefused(ApplicationError):
    """An action (supplement, rating...) is not possible now; ``reason_zh`` says why."""

    def __init__(self, application_id: str, reason_zh: str) -> None:
        self.application_id = application_id
        self.reason_zh = reason_zh
        super().__init__(f"{application_id}: {reason_zh}")


class TransitionRefused(ActionRefused):
    """The state machine does not allow ``current`` → ``target`` for this origin."""

    def __init__(self, application_id: str, current: str, target: str, reason_zh: str) -> None:
        self.current = current
        self.target = target
        super().__init__(application_id, reason_zh)
        self.args = (f"{application_id}: {current} -> {target} refused: {reason_zh}",)


class IdempotencyConflict(ApplicationError):
    """``key`` was already used with a different request body."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"Idempotency-Key {key!r} was used with a different body")


class IdentifierError(TongbanError, ValueError):
    """An identifier failed its format or check; ``message_zh`` says why, in Chinese.

    Also a `ValueError`, so pydantic validators report it as a field error.
    """

    def __init__(self, message_zh: str) -> None:
        self.message_zh = message_zh
        super().__init__(message_zh)


class AttachmentError(TongbanError):
    """An upload is refused: ``status`` is 413 (too large) or 415 (media type)."""

    def __init__(self, status: int, message_zh: str) -> None:
        self.status = status
        self.message_zh = message_zh
        super().__init__(message_zh)


class PiiError(TongbanError):
    """A personal-data ciphertext cannot be opened: unknown key id, tampered or malformed."""


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


class RegionUnreachable(RegionUnavailable):
    """No answer came back at all: a timeout, a refused or a dropped connection.

    Raised by the shared HTTP transport; a region that answered "busy" or 5xx is a plain
    `RegionUnavailable`. The relay records that no response was received (trace hops).
    """


class RegionRejected(AdapterError):
    """The region refused the message for good; retrying the same message cannot succeed.

    ``code`` and ``message`` are the region's own (native) error code and text.
    """

    def __init__(
        self, region: str, code: str, message: str, *, category: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        # What kind of refusal, for the clerk: signature, materials, not_allowed...
        self.category = category
        super().__init__(region, f"rejected [{code}] {message}")


class CallbackRejected(AdapterError):
    """A result pushed by a region failed signature verification or could not be parsed.

    ``reason`` is a short stable word (``signature``, ``stale``, ``malformed``) for logs.
    """

    def __init__(self, region: str, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(region, f"callback refused ({reason}): {message}")


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
