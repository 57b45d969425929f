"""The federation's running parts: peers' keys kept current, and (next) the witness.

`federation_context` is a `cleanup_ctx` after the partner authenticator: it fetches
the peers' JWK Sets in the background (a peer that is down does not stop our
start) and lets the authenticator look again for a key id no partner has.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.adapters_registry import HTTP_CLIENT
from gateway.app_keys import SETTINGS
from gateway.federation.keys import PeerKeys
from gateway.security.auth import AUTHENTICATOR

PEER_KEYS = web.AppKey("peer_keys", PeerKeys)


async def federation_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.federation.peers:
        yield
        return
    authenticator = app[AUTHENTICATOR]
    keys = PeerKeys(settings.federation, authenticator.registry, app[HTTP_CLIENT])
    app[PEER_KEYS] = keys
    authenticator.key_finder = keys.find
    first_fetch = asyncio.create_task(keys.fetch_all(), name="federation-jwks")
    try:
        yield
    finally:
        first_fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first_fetch
