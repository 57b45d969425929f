"""The contract every region adapter implements, and what the core hands it.

An adapter translates an `Envelope` into one region's native protocol and the
region's answers back into `RegionAck` and `StatusEvent`. It is a small async
contract (after httpx's transports): four delivery coroutines, ``health()``,
``aclose()`` and async-context-manager support. How results come back is an
optional capability with its own Protocol: `PushAdapter` (the region calls our
callback) or `PollAdapter` (we ask the region).

Errors: an adapter raises only `gateway.errors.AdapterError` subclasses —
`RegionUnavailable` (transient: retry), `RegionRejected` (permanent: the region's code
and message), `CallbackRejected` (a pushed result failed verification). Every foreign
exception (aiohttp, XML, JSON, crypto) is translated at this boundary.

Adapters are plugins: a distribution registers a factory
``(config: AdapterConfig, http: HttpClient) -> Adapter`` in the entry-point group
``tongban.adapters`` under the region's name (see `gateway.adapters_registry`).
Its settings are the ``[adapters.REGION]`` table, which the plugin validates at
start-up with its own `AdapterSettings` model (`AdapterConfig.settings_as`).

This module, `gateway.envelope` (the messages and `Status`) and `gateway.errors` (the
exception tree) are the whole contract: a plugin needs nothing else from the core.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, runtime_checkable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.envelope import Envelope, RegionAck, StatusEvent
from gateway.errors import CallbackRejected, ConfigError, RegionRejected, RegionUnavailable
from gateway.jsonio import JsonRefused, load_json

ANSWER_MAX_BYTES = 4 * 1024 * 1024
"""Largest JSON answer taken from a region."""
CALLBACK_MAX_BYTES = 256 * 1024
"""Largest JSON a region may push to a callback (one status notice)."""

if TYPE_CHECKING:
    from gateway.security.sm2 import SM2PrivateKey

ENTRY_POINT_GROUP = "tongban.adapters"

REQUEST_ID_HEADER = "X-Request-ID"
TRACEPARENT_HEADER = "traceparent"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class SignRequest(Protocol):
    """``(method, url, headers, body) -> headers to add``: signs one outbound request.

    The seam for RFC 9421 HTTP Message Signatures with the gateway's key (the peer
    adapter, partner webhooks); `gateway.security.outbound.RequestSigner` implements it.
    Synchronous on purpose: the key is in memory and signing is a few microseconds of
    CPU, so every caller (adapters, the partner CLI client, webhooks) can use it without
    an event loop. The caller sends the URL and body bytes exactly as passed.
    """

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]: ...


RequestVerifier = Callable[[web.Request, bytes], Awaitable[bool]]
"""``(request, body) -> genuine?``: checks a pushed request's HTTP message signature."""

AttachmentSource = Callable[[str], Awaitable[tuple[bytes, str] | None]]
"""``(sha256 hex digest) -> (file bytes, media type)`` of a stored attachment, or None
when the gateway no longer has it; for protocols that carry the files themselves."""


class AdapterSettings(BaseModel):
    """The base of a plugin's settings model: its ``[adapters.REGION]`` table.

    A plugin subclasses it, adds its own keys with defaults or as required, and reads
    it with `AdapterConfig.settings_as`. Unknown keys are refused (a typo fails boot).
    Secrets are `pydantic.SecretStr`, so they never show in a log or a repr.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="Where the region's system answers (http:// or https://).")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        # A validator, not a Field pattern: it still holds where a plugin redeclares
        # ``url`` to give it a default.
        if not url.startswith(("http://", "https://")) or len(url) < 9:
            raise ValueError("must be an http:// or https:// URL")
        return url


SettingsT = TypeVar("SettingsT", bound=AdapterSettings)

DEMO_VALUE = "demo value: matches `tongban sandbox`; change it in production"
"""The phrase a plugin's settings model puts in a demo default's description."""


@dataclass(frozen=True)
class AdapterConfig:
    """What the core hands one adapter: its region's settings table and shared seams.

    ``settings`` is the region's ``[adapters.REGION]`` table as written (file,
    ``TONGBAN_ADAPTERS__REGION__KEY`` variables, overrides), not yet validated: the
    plugin reads it through `settings_as` with its own model. ``callback_url`` is where
    a push region should send results. ``signer`` and ``verifier`` are the seams for
    HTTP message signatures (RFC 9421) where a protocol uses them (the peer);
    `gateway.federation.wiring` supplies them.
    ``origin_of`` says where a setting was written, for error messages.
    """

    region: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 10.0
    health_timeout: float = 1.5
    callback_url: str | None = None
    signer: SignRequest | None = None
    verifier: RequestVerifier | None = None
    sm2_key: SM2PrivateKey | None = None
    """The gateway's SM2 key, for regions whose protocol signs with SM2 (Zhangjiagang);
    None until ``tongban keys generate --alg sm2`` has run and the key is unlocked."""
    origin_of: Callable[[Sequence[str | int]], str | None] | None = None
    attachments: AttachmentSource | None = None
    """Reads an application's stored files by digest (the peer uploads them)."""

    def settings_as(self, model: type[SettingsT]) -> SettingsT:
        """The region's table validated by `model`; `ConfigError` naming each bad key
        (``adapters.REGION.KEY``) and where it was set, so boot fails with a fixable
        message."""
        return validate_region_settings(model, self.region, self.settings, self.origin_of)


def validate_region_settings(
    model: type[SettingsT],
    region: str,
    table: Mapping[str, Any],
    origin_of: Callable[[Sequence[str | int]], str | None] | None = None,
) -> SettingsT:
    """`table` validated by `model`, or `ConfigError` naming ``adapters.REGION.KEY``."""
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = ("adapters", region, *error["loc"])
            where = origin_of(loc) if origin_of is not None else None
            message = f"{error['msg']} ({where})" if where else error["msg"]
            problems.append((".".join(str(part) for part in loc), message))
        raise ConfigError(f"adapters.{region}", problems) from exc


@dataclass(frozen=True)
class HttpResponse:
    """A complete HTTP response: status, headers (case-insensitive keys) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class HttpClient(Protocol):
    """The one shared outbound HTTP client (connection pool, timeouts, no retries).

    Raises `RegionUnavailable` (naming `region`) for connection errors, timeouts and a
    response lost in transit; returns every HTTP status as a response, because only the
    adapter knows what a region's 4xx or 5xx means.
    """

    async def request(
        self,
        method: str,
        url: str,
        *,
        region: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request limit, as in httpx
    ) -> HttpResponse: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Adapter(Protocol):
    """Delivers envelopes to one region. Every method raises only `AdapterError`s."""

    @property
    def region(self) -> str: ...

    async def submit(self, envelope: Envelope) -> RegionAck:
        """Deliver a new application; returns the region's case number (受理编号).

        Delivering the same ``idempotency_key`` again returns the same case number
        (``duplicate=True`` when the region says so).
        """
        ...

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        """Deliver supplementary materials (补正) for ``envelope.region_case_no``."""
        ...

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        """Withdraw the case ``envelope.region_case_no`` (撤回)."""
        ...

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        """Deliver the applicant's rating (好差评) of the case."""
        ...

    async def health(self) -> dict[str, Any]:
        """Probe the region; details to show, or `RegionUnavailable`."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class PushAdapter(Adapter, Protocol):
    """A region that pushes results to ``POST /v1/regions/{region}/callbacks``."""

    async def parse_callback(self, request: web.Request) -> list[StatusEvent]:
        """Verify and parse a pushed result; raises `CallbackRejected` when it is not genuine.

        The caller stores the events first, then answers with `callback_reply`.
        """
        ...

    def callback_reply(self, error: Exception | None = None) -> web.Response:
        """The region's native answer to a callback: accepted, or refused for `error`."""
        ...


@runtime_checkable
class PollAdapter(Adapter, Protocol):
    """A region that is asked for results."""

    async def poll(self, cases: Sequence[str]) -> list[StatusEvent]:
        """Every status event the region holds for `cases` (its case numbers).

        Event ids are stable, so polling twice yields the same ids and the core
        deduplicates by them.
        """
        ...


AdapterFactory = Callable[[AdapterConfig, HttpClient], Adapter]
"""What an entry point of group ``tongban.adapters`` loads."""


class AdapterBase:
    """Shared plumbing: the region name, its URL, the client, async-context-manager support.

    `settings` is the plugin's own, already validated (`AdapterConfig.settings_as`).
    """

    def __init__(self, config: AdapterConfig, http: HttpClient, settings: AdapterSettings) -> None:
        self._config = config
        self._http = http
        self._base_url = settings.url
        self._closed = False

    @property
    def region(self) -> str:
        return self._config.region

    @property
    def config(self) -> AdapterConfig:
        return self._config

    @property
    def base_url(self) -> str:
        """Where the region's system answers (its ``url`` setting)."""
        return self._base_url

    async def aclose(self) -> None:
        """Release the adapter's own resources; the shared client belongs to the core."""
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _url(self, path: str) -> str:
        return self._base_url.rstrip("/") + path


def trace_headers(request_id: str | None, trace_id: str | None) -> dict[str, str]:
    """``X-Request-ID`` and a W3C ``traceparent`` for one outbound call.

    The trace id is the envelope's when it is a valid W3C trace id, else the request
    id when that is one (our request ids are 32 hex digits); each call is a new span.
    """
    headers: dict[str, str] = {}
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    candidate = next(
        (t for t in (trace_id, request_id) if t and _TRACE_ID.match(t) and t != "0" * 32),
        None,
    )
    if candidate is not None:
        headers[TRACEPARENT_HEADER] = f"00-{candidate}-{secrets.token_hex(8)}-01"
    return headers


def envelope_headers(envelope: Envelope) -> dict[str, str]:
    """`trace_headers` for the envelope's request and trace ids."""
    return trace_headers(envelope.request_id, envelope.trace_id)


def require_case_no(region: str, envelope: Envelope) -> str:
    """The region case number a follow-up needs; a permanent error when it is missing."""
    if not envelope.region_case_no:
        raise RegionRejected(region, "no_case_no", f"{envelope.kind} needs region_case_no")
    return envelope.region_case_no


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (Chinese text as is), the form every JSON region receives."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def json_reply(
    data: Any, *, status: int = 200, content_type: str = "application/json"
) -> web.Response:
    """`data` as a UTF-8 JSON response, Chinese as is (a region's native answer to a
    callback); aiohttp's ``web.json_response`` would escape every non-ASCII character."""
    return web.Response(
        body=json_bytes(data), status=status, content_type=content_type, charset="utf-8"
    )


def json_object(region: str, body: bytes) -> dict[str, Any]:
    """Parse a region's JSON object; a garbled answer is `RegionUnavailable` (a proxy page)."""
    try:
        value = load_json(body, max_bytes=ANSWER_MAX_BYTES)
    except JsonRefused as exc:
        raise RegionUnavailable(region, f"answer is not acceptable JSON ({exc.check})") from exc
    if not isinstance(value, dict):
        raise RegionUnavailable(region, "answer is not a JSON object")
    return value


def callback_json(region: str, body: bytes) -> Any:
    """Parse a pushed callback's JSON strictly (`gateway.jsonio`), before or after its
    signature check: an unacceptable document is `CallbackRejected` (``malformed``)."""
    try:
        return load_json(body, max_bytes=CALLBACK_MAX_BYTES)
    except JsonRefused as exc:
        raise CallbackRejected(region, "malformed", f"not acceptable JSON ({exc.check})") from exc


__all__ = [
    "DEMO_VALUE",
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AdapterBase",
    "AdapterConfig",
    "AdapterFactory",
    "AdapterSettings",
    "AttachmentSource",
    "HttpClient",
    "HttpResponse",
    "PollAdapter",
    "PushAdapter",
    "RequestVerifier",
    "SignRequest",
    "callback_json",
    "envelope_headers",
    "json_bytes",
    "json_object",
    "json_reply",
    "require_case_no",
    "trace_headers",
    "validate_region_settings",
]
