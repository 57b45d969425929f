"""Plugging security into the app: key ring, partner registry, authenticator, JWKS route.

`setup_security(app, settings, store_key)` is called once by `create_app`. The
partner registry is built at once, so a bad partner setting fails boot; the key
ring is read (and its private key decrypted, a deliberately slow KDF) in a thread
on start-up. A rotation made with ``tongban keys rotate`` takes effect at the next
(rolling) restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from aiohttp import web

from gateway.app_keys import AUTHENTICATOR, GATEWAY_KEYS
from gateway.config import Settings
from gateway.security.auth import PartnerAuthenticator
from gateway.security.jwks import GatewayKeys, routes
from gateway.security.keys import KeyStore
from gateway.security.nonces import NonceStore
from gateway.security.partners import PartnerRegistry
from gateway.security.pii import PiiCipher, load_keys
from gateway.security.ratelimit import limiter_for
from gateway.security.sm2_keys import SM2KeyStore
from gateway.store import Store

log = structlog.get_logger(__name__)


def key_passphrase(settings: Settings) -> str | None:
    """The passphrase every key at rest is encrypted under (``security.key_passphrase``).

    It encrypts the gateway key ring, the audit checkpoint key and the PII key ring.
    """
    secret = settings.security.key_passphrase
    return None if secret is None else secret.get_secret_value()


def key_store(settings: Settings) -> KeyStore:
    """The gateway key ring directory named by `settings`, with its passphrase."""
    directory = settings.security.keys_dir or settings.data_dir / "keys"
    return KeyStore(directory, key_passphrase(settings))


def pii_cipher(settings: Settings) -> PiiCipher:
    """The personal-data cipher: keys from ``pii.*``, else the ring kept (encrypted under
    the key passphrase) in the data directory, created on first use (blocking)."""
    pii = settings.pii
    keys = load_keys(
        pii.keys, pii.active_key, pii.index_key, settings.data_dir, key_passphrase(settings)
    )
    return PiiCipher(keys)


def sm2_key_store(settings: Settings) -> SM2KeyStore:
    """The gateway's SM2 ring, in the same directory and under the same passphrase."""
    store = key_store(settings)
    security = settings.security
    passphrase = security.key_passphrase.get_secret_value() if security.key_passphrase else None
    return SM2KeyStore(store.directory, passphrase)


def load_gateway_keys(settings: Settings) -> GatewayKeys:
    """Read the key ring and unlock the active key if a passphrase is set (blocking).

    Raises `KeyStoreError` for a damaged ring or a wrong passphrase: better to fail
    boot than to run unable to sign.
    """
    store = key_store(settings)
    grace = timedelta(days=settings.security.key_grace_days)
    unlock = settings.security.key_passphrase is not None
    sm2_store = sm2_key_store(settings)
    sm2_ring = sm2_store.load_ring() if sm2_store.exists() else None
    sm2_private = sm2_store.load_private(sm2_ring.active_kid) if sm2_ring and unlock else None
    if not store.exists():
        return GatewayKeys(ring=None, grace=grace, sm2_ring=sm2_ring, sm2_private_key=sm2_private)
    ring = store.load_ring()
    private = None
    if unlock:
        private = store.load_private(ring.active_kid)
    return GatewayKeys(
        ring=ring,
        grace=grace,
        private_key=private,
        sm2_ring=sm2_ring,
        sm2_private_key=sm2_private,
    )


def setup_security(app: web.Application, settings: Settings, store_key: web.AppKey[Store]) -> None:
    """Register the security resources and routes on `app`; needs the store opened first."""
    registry = PartnerRegistry.from_settings(settings.security)

    async def keys_context(app: web.Application) -> AsyncIterator[None]:
        keys = await asyncio.to_thread(load_gateway_keys, settings)
        app[GATEWAY_KEYS] = keys
        log.info(
            "security.keys_loaded",
            active_kid=keys.ring.active_kid if keys.ring else None,
            can_sign=keys.private_key is not None,
            sm2_kid=keys.sm2_ring.active_kid if keys.sm2_ring else None,
        )
        if keys.ring is None:
            log.warning("security.no_gateway_key", hint="run `tongban keys generate`")
        yield

    async def auth_context(app: web.Application) -> AsyncIterator[None]:
        app[AUTHENTICATOR] = PartnerAuthenticator(
            registry,
            NonceStore(app[store_key]),
            limiter_for(app[store_key]),
            max_clock_skew=settings.security.max_clock_skew,
            require_nonce=settings.security.require_nonce,
            public_base_url=settings.security.public_base_url,
        )
        log.info("security.partners_loaded", partners=len(registry))
        yield

    # Keys first: a wrong passphrase stops start-up before anything else is opened.
    app.cleanup_ctx.insert(0, keys_context)
    app.cleanup_ctx.append(auth_context)
    app.router.add_routes(routes)
