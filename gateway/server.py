"""Run an application until SIGINT or SIGTERM, then shut down gracefully.

On a signal the listener closes at once (no new connections), in-flight requests
get `Settings.server.shutdown_timeout` seconds to finish, then `cleanup_ctx`
closes the store and every other resource.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

OnListening = Callable[[list[str]], Awaitable[None] | None]


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    on_listening: OnListening | None = None,
) -> None:
    """Serve `app` on `host`:`port` until the process is told to stop.

    `on_listening` receives the bound URLs (the real port when `port` is 0).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        urls = [_url(address) for address in runner.addresses]
        log.info("server.listening", urls=urls)
        if on_listening is not None:
            result = on_listening(urls)
            if result is not None:
                await result
        await stop.wait()
        log.info("server.stopping", shutdown_timeout=shutdown_timeout)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _url(address: object) -> str:
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"
    return str(address)
