"""Partner authentication: RFC 9421 signed requests, item access rules, rate limits.

Decorate a partner route with `partner_required`; the handler then finds the
authenticated partner with `partner_of(request)`, checks an item with
`require_item_allowed(request, code)` before writing anything, and keeps
`evidence_of(request)` with what it stores.

A request is accepted when, in this order (the first failure is the answer):

1. ``Signature-Input`` and ``Signature`` parse, one signature is chosen (the first);
2. a request with a body carries ``Content-Digest``;
3. the signature covers ``@method``, the target (``@target-uri``, or ``@authority``
   + ``@path`` + ``@query``) and, with a body, ``content-type`` and ``content-digest``;
4. it has ``keyid``, ``alg`` is absent or ``ed25519`` / ``sm2-sm3`` (the key's), and
   a ``nonce`` when required;
5. ``created`` is within ``max_clock_skew`` of now, ``expires`` (if any) not passed;
6. the key id belongs to a partner and the key is inside its validity window;
7. the signature verifies over the signature base (Ed25519, or SM2 for ``sm2-sm3``,
   checked in a worker thread: SM2 takes about a millisecond);
8. ``Content-Digest`` matches the body;
9. the partner is under its rate limit (else 429 with ``Retry-After``);
10. the nonce, if any, was never seen (kept until the signature would be stale).

Failures of 1–8 and 10 are 401 problem+json whose ``check`` member names the failed
check; none echoes key material or the expected signature. Refusals write nothing
but the refusal log line; a rate-limited request does not spend its nonce.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.app_keys import AUTHENTICATOR
from gateway.errors import SignatureError, StoreError
from gateway.problems import Problem
from gateway.security.digest import verify_content_digest
from gateway.security.evidence import SubmissionEvidence
from gateway.security.nonces import NonceClaim, NonceReplayed, NonceStore
from gateway.security.partners import Partner, PartnerKey, PartnerRegistry
from gateway.security.ratelimit import PartnerLimiter, retry_after_header
from gateway.security.signatures import (
    ALGORITHM,
    ALGORITHMS,
    HttpMessage,
    algorithm_of,
    parse_signature,
    verify_signature,
)
from gateway.security.sm2 import SM2PublicKey

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SPLIT_TARGET = ("@authority", "@path", "@query")
# RFC 9421 §5.1: tells a client which signature we want.
ACCEPT_SIGNATURE = (
    'sig1=("@method" "@target-uri" "content-type" "content-digest");created;keyid;'
    f'alg="{ALGORITHM}";nonce'
)

log = structlog.get_logger(__name__)

# The refusal a clerk reads, per check; the check code and the English reason
# (``reason``) are for the partner's developer.
CHECK_DETAILS_ZH = {
    "signature_missing": "请求没有签名（缺少 Signature-Input 和 Signature 头）",
    "signature_malformed": "签名头格式有误",
    "signature_invalid": "签名验证未通过：请求内容与签名不符",
    "params_malformed": "签名参数格式有误",
    "component_malformed": "签名覆盖的内容格式有误",
    "component_unsupported": "签名覆盖了网关不支持的内容",
    "component_missing": "签名覆盖的内容在请求中不存在",
    "components_missing": "签名未覆盖必须覆盖的请求内容",
    "digest_missing": "带请求体的请求须有 Content-Digest 头",
    "digest_malformed": "Content-Digest 头格式有误",
    "digest_unsupported": "Content-Digest 须使用 sha-256 或 sha-512",
    "digest_mismatch": "Content-Digest 与请求体不符",
    "keyid_missing": "签名缺少密钥编号（keyid）",
    "algorithm_unsupported": "签名算法须为 ed25519",
    "nonce_missing": "签名须带一次性随机数（nonce），以防重放",
    "nonce_replayed": "此签名的一次性随机数（nonce）已用过，疑为重放请求",
    "created_missing": "签名缺少生成时间（created）",
    "created_stale": "签名生成时间过早，请检查本机时钟后重新签名",
    "created_future": "签名生成时间晚于当前时间，请检查本机时钟",
    "signature_expired": "签名已过期，请重新签名",
    "key_unknown": "没有合作方使用此签名密钥（keyid 未登记）",
    "key_not_yet_valid": "此签名密钥尚未生效",
    "key_expired": "此签名密钥已过期",
}


@dataclass(frozen=True)
class AuthenticatedPartner:
    """The outcome of a verified request: who signed it, with which key, and the proof."""

    partner: Partner
    key: PartnerKey
    evidence: SubmissionEvidence
    # Set when the route records the nonce in its own transaction (`partner_required`
    # with ``claim_nonce=True``); None when it was recorded already, or there is none.
    nonce_claim: NonceClaim | None = None


PARTNER = web.RequestKey("partner", AuthenticatedPartner)


class PartnerAuthenticator:
    """Checks signed partner requests against the registry, the clock and the nonce store.

    `clock` returns Unix seconds; tests inject one to move time.
    """

    def __init__(
        self,
        registry: PartnerRegistry,
        nonces: NonceStore,
        limiter: PartnerLimiter,
        *,
        max_clock_skew: int = 300,
        require_nonce: bool = True,
        public_base_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self._nonces = nonces
        self._limiter = limiter
        self._skew = max_clock_skew
        self._require_nonce = require_nonce
        self._base_url = public_base_url.rstrip("/") if public_base_url else None
        self._clock = clock
        self.key_finder: Callable[[str], Awaitable[None]] | None = None
        """Looks for a key id no partner has (a peer's JWKS, fetched again after its
        rotation); set by the federation wiring. Rate-limited by its owner."""

    def target_uri(self, request: web.Request) -> str:
        """The URI the partner called: `public_base_url` (behind a proxy) + raw path and query."""
        base = self._base_url or f"{request.scheme}://{request.host}"
        return base + request.raw_path

    async def authenticate(
        self, request: web.Request, *, claim_nonce: bool = False
    ) -> AuthenticatedPartner:
        """Run every check on `request`; raise `Problem` (401, 429, 503) on the first failure.

        With `claim_nonce` the nonce is not recorded here: the result carries a
        `NonceClaim` for the route's own transaction, and `settle_claim` finishes it.
        """
        body = await request.read()
        message = HttpMessage.of(request.method, self.target_uri(request), request.headers.items())
        await self._find_unknown_key(message)
        now = self._clock()
        try:
            if self._verifies_slowly(message):  # SM2: ~1 ms of C that releases the GIL
                authenticated, expires_at = await asyncio.to_thread(self.verify, message, body, now)
            else:
                authenticated, expires_at = self.verify(message, body, now)
        except SignatureError as exc:
            log.warning("security.partner_refused", check=exc.check, path=request.path)
            raise _unauthorized(exc) from None
        partner = authenticated.partner
        try:
            wait = await self._limiter.acquire(
                partner.id, partner.rate_limit_per_minute, partner.rate_limit_burst
            )
        except StoreError as exc:  # the shared buckets (PostgreSQL) cannot be read
            log.error("security.rate_limit_store_failed", partner_id=partner.id, error=str(exc))
            raise Problem(
                503,
                detail="暂时无法校验请求频率，请稍后重试",
                type_="rate-limit-store-unavailable",
                headers={"Retry-After": "1"},
            ) from exc
        if wait is not None:
            log.warning("security.partner_rate_limited", partner_id=partner.id, wait_s=wait)
            raise Problem(
                429,
                detail=f"合作方 {partner.id} 的请求过于频繁，请稍后重试",
                type_="rate-limited",
                headers={"Retry-After": retry_after_header(wait)},
            )
        nonce = authenticated.evidence.nonce
        if nonce is not None:
            claim = NonceClaim(self._nonces, partner.id, nonce, expires_at)
            if claim_nonce:
                authenticated = replace(authenticated, nonce_claim=claim)
            else:
                await self.settle_claim(request, claim)
        log.info(
            "security.partner_authenticated", partner_id=partner.id, keyid=authenticated.key.keyid
        )
        return authenticated

    async def settle_claim(self, request: web.Request, claim: NonceClaim) -> None:
        """Record `claim` on its own unless its route's transaction did; 401 on a replay."""
        if claim.done:
            return
        try:
            fresh = await self._nonces.remember(claim.partner_id, claim.nonce, claim.expires_at)
        except StoreError as exc:
            log.error("security.nonce_store_failed", partner_id=claim.partner_id, error=str(exc))
            raise Problem(
                503,
                detail="暂时无法校验一次性随机数，请稍后重试",
                type_="nonce-store-unavailable",
                headers={"Retry-After": "1"},
            ) from exc
        claim.committed()
        if not fresh:
            raise replayed(request)

    async def _find_unknown_key(self, message: HttpMessage) -> None:
        """Give `key_finder` a chance at a key id no partner has yet."""
        if self.key_finder is None:
            return
        try:
            keyid = parse_signature(message).str_param("keyid")
        except SignatureError:
            return  # `verify` names the failure
        if keyid and self.registry.by_keyid(keyid) is None:
            await self.key_finder(keyid)

    def _verifies_slowly(self, message: HttpMessage) -> bool:
        """Whether the claimed key is SM2, whose verification is worth a thread hop."""
        try:
            keyid = parse_signature(message).str_param("keyid")
        except SignatureError:
            return False  # `verify` names the failure
        found = self.registry.by_keyid(keyid) if keyid else None
        return found is not None and isinstance(found[1].public_key, SM2PublicKey)

    def verify(
        self, message: HttpMessage, body: bytes, now: float
    ) -> tuple[AuthenticatedPartner, int]:
        """Checks 1–8 (no rate limit, no nonce); return the result and the nonce's expiry.

        Raises `SignatureError` naming the first failed check.
        """
        parsed = parse_signature(message)
        has_body = bool(body) or message.method.upper() in _BODY_METHODS
        if has_body and message.header("content-digest") is None:
            raise SignatureError("digest_missing", "a request with a body needs Content-Digest")
        covered = set(parsed.components)
        required = {"@method"}
        if "@target-uri" not in covered:
            required.update(_SPLIT_TARGET)
        if has_body:
            required.update(("content-type", "content-digest"))
        missing = sorted(required - covered)
        if missing:
            raise SignatureError(
                "components_missing", f"the signature must also cover {', '.join(missing)}"
            )
        keyid = parsed.str_param("keyid")
        if not keyid:
            raise SignatureError("keyid_missing", "the signature has no keyid parameter")
        alg = parsed.str_param("alg")
        if alg is not None and alg not in ALGORITHMS:  # matched to the key's in verify_signature
            raise SignatureError(
                "algorithm_unsupported", f"alg must be one of {sorted(ALGORITHMS)}"
            )
        nonce = parsed.str_param("nonce")
        if self._require_nonce and not nonce:
            raise SignatureError("nonce_missing", "a single-use nonce parameter is required")
        created = parsed.int_param("created")
        expires = parsed.int_param("expires")
        if created is None:
            raise SignatureError("created_missing", "the signature has no created parameter")
        if created < now - self._skew:
            raise SignatureError(
                "created_stale", f"created is more than {self._skew} s in the past"
            )
        if created > now + self._skew:
            raise SignatureError(
                "created_future", f"created is more than {self._skew} s in the future"
            )
        if expires is not None and expires <= now:
            raise SignatureError("signature_expired", "the signature's expires time has passed")
        found = self.registry.by_keyid(keyid)
        if found is None:
            raise SignatureError("key_unknown", "no partner has a key with this keyid")
        partner, key = found
        refusal = key.refusal_at(datetime.fromtimestamp(now, UTC))
        if refusal is not None:
            raise SignatureError(refusal, "this key is outside its validity window")
        base = verify_signature(message, parsed, key.public_key)
        digest_header = message.header("content-digest")
        if has_body:
            verify_content_digest(digest_header, body)
        evidence = SubmissionEvidence(
            partner_id=partner.id,
            keyid=keyid,
            algorithm=algorithm_of(key.public_key),
            label=parsed.label,
            signature_input=parsed.signature_input,
            signature=base64.b64encode(parsed.signature).decode("ascii"),
            signature_base=base,
            content_digest=digest_header,
            body_sha256=hashlib.sha256(body).hexdigest(),
            created=created,
            nonce=nonce,
            method=message.method,
            target_uri=message.target_uri,
            verified_at=datetime.fromtimestamp(now, UTC),
        )
        # A nonce is remembered until the signature would be refused anyway.
        expires_at = int(created + self._skew) + 1
        if expires is not None:
            expires_at = min(expires_at, expires)
        return AuthenticatedPartner(partner=partner, key=key, evidence=evidence), expires_at


def replayed(request: web.Request) -> Problem:
    """The 401 for a request whose nonce was used before, logged as such."""
    log.warning("security.partner_refused", check="nonce_replayed", path=request.path)
    return _unauthorized(
        SignatureError("nonce_replayed", "this signature's nonce was already used")
    )


def partner_required(handler: Handler, *, claim_nonce: bool = False) -> Handler:
    """Wrap an aiohttp handler so only a verified partner request reaches it.

    With `claim_nonce` the handler records the nonce in its own transaction (one
    commit, not two) through `nonce_claim_of`; whatever the handler does, a replay
    is refused with the same 401 as before it ran, and a nonce its transaction did
    not commit is recorded afterwards.
    """

    @functools.wraps(handler)
    async def authenticated_handler(request: web.Request) -> web.StreamResponse:
        authenticator = request.app[AUTHENTICATOR]
        authenticated = await authenticator.authenticate(request, claim_nonce=claim_nonce)
        request[PARTNER] = authenticated
        claim = authenticated.nonce_claim
        with structlog.contextvars.bound_contextvars(partner_id=authenticated.partner.id):
            if claim is None:
                return await handler(request)
            try:
                response = await handler(request)
            except NonceReplayed:
                raise replayed(request) from None
            except Exception:
                await authenticator.settle_claim(request, claim)  # a replay: 401 wins
                raise
            await authenticator.settle_claim(request, claim)
            return response

    return authenticated_handler


def nonce_claim_of(request: web.Request) -> NonceClaim | None:
    """The nonce the handler must record in its transaction (see `partner_required`)."""
    return partner_of(request).nonce_claim


def partner_of(request: web.Request) -> AuthenticatedPartner:
    """The partner `partner_required` authenticated. RuntimeError if the route is not wrapped."""
    try:
        return request[PARTNER]
    except KeyError:
        raise RuntimeError("route is not wrapped with partner_required") from None


def evidence_of(request: web.Request) -> SubmissionEvidence:
    """The non-repudiation record of this verified request; store it with the application."""
    return partner_of(request).evidence


def require_item_allowed(request: web.Request, item_code: str) -> Partner:
    """Return the partner if it may submit `item_code`; raise `Problem` 403 otherwise.

    Call it before writing anything, so a refused submission changes nothing.
    """
    partner = partner_of(request).partner
    if not partner.may_submit(item_code):
        log.warning("security.item_refused", partner_id=partner.id, item_code=item_code)
        raise Problem(
            403,
            title="Item not allowed",
            detail=f"合作方 {partner.id} 无权提交事项 {item_code} 的申请",
            type_="item-not-allowed",
            item_code=item_code,
        )
    return partner


def _unauthorized(error: SignatureError) -> Problem:
    return Problem(
        401,
        title="Signature check failed",
        detail=CHECK_DETAILS_ZH.get(error.check, f"请求签名校验未通过（{error.check}）"),
        type_="signature-refused",
        headers={"Accept-Signature": ACCEPT_SIGNATURE},
        check=error.check,
        reason=str(error),
    )
