"""Serve the gateway: the HTTP connection rules, and running until SIGINT or SIGTERM.

`GatewayRunner` is aiohttp's `AppRunner` with the gateway's connection rules (it is
what `serve` and the tests' servers run):

- ``server.idle_timeout``: a connection without a complete request header (new,
  dripping its header, or idle between requests) is closed after that long
  (aiohttp's ``keepalive_timeout``, which starts when the connection opens);
- ``server.max_connections_per_ip``: a client address over the cap gets a 503 and
  its new connection closed;
- a request aiohttp cannot parse (bad request line, line too long...) is answered
  400 problem+json and logged as one ``http.unparsable_request`` line, not
  aiohttp's text/plain answer and traceback.

The body timeout is the app's own (`gateway.observability.body_in_time`). What
aiohttp cannot bound (slow response reads, many addresses) is left to the reverse
proxy: see deploy/nginx.conf.

The port is bound before the application starts: a second gateway started beside a
running one fails at once, before it opens the store or starts a relay on it.
On a signal the listener closes at once (no new connections), in-flight requests
get `Settings.server.shutdown_timeout` seconds to finish, then `cleanup_ctx`
closes the store and every other resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from gateway.config import ServerSettings
from gateway.errors import ConfigError
from gateway.http.responses import problem_response
from gateway.jsonio import dumps
from gateway.problems import Problem

log = structlog.get_logger(__name__)

OnListening = Callable[[list[str]], Awaitable[None] | None]

LISTEN_BACKLOG = 1024
"""Pending connections the kernel queues for us (capped by net.core.somaxconn)."""
# After a refused or timed-out request, unread body bytes are drained this long at most.
_LINGERING_SECONDS = 2.0


class GatewayRequestHandler(RequestHandler):
    """aiohttp's connection handler with the gateway's per-address cap and error answers."""

    _gateway_server: GatewayServer
    _peer: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._gateway_server
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) else None
        server.open_per_ip[self._peer] += 1
        if server.max_per_ip and self._peer and server.open_per_ip[self._peer] > server.max_per_ip:
            log.info("http.connection_refused", reason="per_ip_cap", peer=self._peer)
            assert isinstance(transport, asyncio.WriteTransport)  # noqa: S101 - TCP
            transport.write(_too_many_connections())
            transport.close()
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        counts = self._gateway_server.open_per_ip
        counts[self._peer] -= 1
        if counts[self._peer] <= 0:
            del counts[self._peer]
        super().connection_lost(exc)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Answer aiohttp's own errors as problem+json, with one log line each."""
        if isinstance(exc, HttpProcessingError):
            log.info(
                "http.unparsable_request",
                status=status,
                reason=type(exc).__name__,
                message=str(exc.message)[:200],
                peer=self._peer,
            )
            problem = Problem(
                status,
                "Unparsable request",
                "HTTP 请求格式有误（请求行或头部无法解析），网关无法处理",
                type_="unparsable-request",
            )
        elif status == 504:
            log.info("http.handler_timeout")
            problem = Problem(504, detail="处理超时，请稍后重试", type_="handler-timeout")
        else:
            log.error("http.unhandled_error", status=status, exc_info=exc)
            problem = Problem(
                status,
                detail="网关处理此请求时出错，请凭请求编号联系运维人员。",
                type_="internal-error",
            )
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; closing the connection")
        return problem_response(problem, request, None, close=True)


class GatewayServer(web.Server):
    """aiohttp's `Server` making `GatewayRequestHandler` connections."""

    def __init__(self, *args: Any, max_per_ip: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_per_ip = max_per_ip
        self.open_per_ip: Counter[str | None] = Counter()

    def __call__(self) -> RequestHandler:
        handler = GatewayRequestHandler(self, loop=self._loop, **self._kwargs)
        handler._gateway_server = self
        return handler


class GatewayRunner(web.AppRunner):
    """`web.AppRunner` serving with the gateway's connection rules from `settings`."""

    def __init__(self, app: web.Application, settings: ServerSettings, **kwargs: Any) -> None:
        kwargs.setdefault("access_log", None)  # `request_context` logs each request
        super().__init__(
            app,
            keepalive_timeout=settings.idle_timeout,
            lingering_time=_LINGERING_SECONDS,
            **kwargs,
        )
        self._max_per_ip = settings.max_connections_per_ip

    async def _make_server(self) -> web.Server:
        # aiohttp offers no hook for the connection handler's class, so this uses its
        # internals (`_handle`, `_make_request`, `_kwargs`, `RequestHandler.handle_error`);
        # tests/integration/test_http_hardening.py fails if an upgrade changes them.
        plain = await super()._make_server()  # starts the app (on_startup, cleanup_ctx)
        app = self.app
        return GatewayServer(
            app._handle,
            request_factory=app._make_request,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            max_per_ip=self._max_per_ip,
            **plain._kwargs,
        )


def _too_many_connections() -> bytes:
    body = dumps(
        {
            "type": "https://tongban.example/problems/too-many-connections",
            "title": "Too many connections",
            "status": 503,
            "detail": "来自此地址的连接过多，请稍后重试",
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/problem+json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    on_listening: OnListening | None = None,
    settings: ServerSettings | None = None,
    on_hangup: Callable[[], Awaitable[None]] | None = None,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Serve `app` on `host`:`port` until the process is told to stop.

    `on_listening` receives the bound URLs (the real port when `port` is 0);
    `on_hangup` runs on each SIGHUP (key reload), one at a time. `sockets`, if
    given, are listening sockets bound already (a worker of `gateway.workers`
    inherits its parent's); `host` and `port` are then not bound again.
    """
    if sockets is None:
        sockets = bind(host, port)  # raises OSError (port taken) before anything starts
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    hangups = None if on_hangup is None else _Hangups(on_hangup)
    if hangups is not None:
        loop.add_signal_handler(signal.SIGHUP, hangups.signal)
    runner = GatewayRunner(app, settings or ServerSettings(), shutdown_timeout=shutdown_timeout)
    try:
        await runner.setup()
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        urls = [_url(address) for address in runner.addresses]
        log.info("server.listening", urls=urls, event_loop=loop_name(loop))
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
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        if hangups is not None:
            await hangups.aclose()


class _Hangups:
    """Runs `work` for each SIGHUP, never two at once, and cancels a run at shutdown."""

    def __init__(self, work: Callable[[], Awaitable[None]]) -> None:
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def signal(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True  # one more run after this one: the files changed again
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            await self._work()
            if not self._again:
                return

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop factory for ``server.event_loop`` (`asyncio.Runner`'s `loop_factory`).

    ``uvloop`` runs the loop's own work (callbacks, futures, socket I/O) in C: about a
    tenth of the gateway's CPU per request under load is that work. ``auto`` takes it
    when installed (a dependency wherever uvloop ships wheels), else asyncio's loop
    (None); ``uvloop`` without it installed raises `ConfigError`.
    """
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "server", [("server.event_loop", "uvloop is not installed on this platform")]
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: what `server.listening` says the gateway runs on."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


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
            # A burst of connections beyond the listen backlog has its SYNs dropped, and
            # each client waits a full second to retry: a backlog of 128 made /healthz take
            # 1 s while 500 slow clients connected at once (benchmarks/outside_run.py).
            sock.listen(LISTEN_BACKLOG)
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
