"""Keys without downtime: re-read the key rings and the partner settings on SIGHUP.

`reload_keys` reads everything first (gateway key ring, partners from the settings
re-read through `RELOAD_SETTINGS`, the PII key ring) and only then swaps it in, so
a bad file or setting changes nothing and is logged (``security.reload_failed``):
the running keys stay. What it swaps:

- the gateway key ring (`GatewayKeys.adopt`): after ``tongban keys rotate``, receipts,
  outbound requests and webhooks are signed with the new active key, and the JWKS
  publishes it (the old one stays published for ``security.key_grace_days``);
- the partner registry: keys added or retired in ``[security.partners]``, their
  items and rate limits;
- the PII key ring (`PiiCipher.adopt`): new writes are sealed with the new active
  key, rows sealed under older keys still open; ``tongban keys rewrap`` moves them.

Other settings need a restart.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web

from gateway.app_keys import (
    APPLICATIONS,
    AUTHENTICATOR,
    GATEWAY_KEYS,
    RELOAD_SETTINGS,
    SETTINGS,
)
from gateway.config import Settings
from gateway.security.partners import PartnerRegistry
from gateway.security.pii import PiiKeys, load_keys
from gateway.security.wiring import key_passphrase, load_gateway_keys

__all__ = ["on_hangup", "reload_keys"]

log = structlog.get_logger("gateway.security")


def _pii_ring(settings: Settings) -> PiiKeys:
    pii = settings.pii
    return load_keys(
        pii.keys, pii.active_key, pii.index_key, settings.data_dir, key_passphrase(settings)
    )


async def reload_keys(app: web.Application) -> dict[str, Any]:
    """Re-read and swap in the key rings and partners; return what is active now.

    Raises what reading raised (`TongbanError`), having changed nothing.
    """
    reread = app.get(RELOAD_SETTINGS)
    settings = await asyncio.to_thread(reread) if reread is not None else app[SETTINGS]
    keys = await asyncio.to_thread(load_gateway_keys, settings)
    registry = PartnerRegistry.from_settings(settings.security)
    ring = await asyncio.to_thread(_pii_ring, settings)
    deps = app.get(APPLICATIONS)
    if deps is not None:
        deps.cipher.adopt(ring)  # checks first: it may refuse, before anything is swapped
    app[GATEWAY_KEYS].adopt(keys)
    if AUTHENTICATOR in app:
        app[AUTHENTICATOR].registry = registry
    active = {
        "gateway_kid": keys.ring.active_kid if keys.ring else None,
        "partners": len(registry),
        "pii_key": ring.active,
    }
    log.info("security.reloaded", **active)
    return active


async def on_hangup(app: web.Application) -> None:
    """SIGHUP: `reload_keys`, logging instead of raising (the gateway keeps serving)."""
    try:
        await reload_keys(app)
    except Exception as exc:  # the running keys stay; say why the new ones did not load
        log.error("security.reload_failed", error=str(exc), error_type=type(exc).__name__)
