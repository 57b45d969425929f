"""Run an application until SIGINT or SIGTERM, then shut down gracefully.

The port is bound before the application starts: a second gateway started beside a
running one fails at once, before it opens the store or starts a relay on it.
On a signal the listener closes at once (no new connections), in-flight requests
get `Settings.server.shutdown_timeout` seconds to finish, then `cleanup_ctx`
closes the store and every other resource.
"""

from __future__ import annotations

import asyncio
import signal
import socket
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
    sockets = bind(host, port)  # raises OSError (port taken) before anything starts
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    try:
        await runner.setup()
        for sock in sockets:
            await web.SockSite(runner, sock).start()
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
        for sock in sockets:
            sock.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address `host` resolves to, as aiohttp's TCPSite would.

    Listening at once, so the port is ours from here on; connections wait in the
    backlog until the application has started. Raises `OSError` if any address is
    taken, closing what was already bound.
    """
    sockets: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _url(address: object) -> str:
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"
    return str(address)
