"""`tongban serve --workers N`: N gateway processes on one port, and the parent that keeps them.

The parent binds the listening sockets, prepares what every worker would otherwise
create on its first start (the schema's migrations, the PII key ring, the audit
checkpoint key: once, here, never racing), then starts N workers, each a
``tongban serve`` process that inherits the sockets (``--listen-fd``) and accepts
on them. It restarts a worker that dies, forwards SIGHUP (key reload) to the
workers, and on SIGTERM or SIGINT stops them all and exits 0.

Why one inherited socket rather than SO_REUSEPORT (a socket per worker): the
kernel hashes each new connection to one SO_REUSEPORT socket, so connections
waiting in a killed worker's queue are reset, and any other process of the same
user could join the group unnoticed. An inherited socket keeps accepting while a
worker restarts (connections wait in the parent's backlog), and a second gateway
started on the same port still fails at once. Idle workers wake first, so the
load spreads as with SO_REUSEPORT.

Each worker holds a socketpair end (``--parent-fd``): it writes ``ready`` once
listening, and stops (as on SIGTERM) when the parent's end closes, so a parent
killed with SIGKILL leaves no workers behind. Workers run in their own session:
a Ctrl+C at a terminal reaches the parent only, which stops them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from gateway.config import Settings

log = structlog.get_logger(__name__)

WorkerCommand = Callable[[Sequence[int], int], list[str]]
"""The argv of one worker, given the listening fds and its end of the parent link."""

READY = b"ready"
_QUICK_DEATH_SECONDS = 10.0  # a worker that dies sooner than this is restarted more slowly
_MAX_RESTART_DELAY = 30.0
_KILL_MARGIN = 5.0  # beyond server.shutdown_timeout, before a worker is killed


def refuse_embedded_store(settings: Settings, workers: int) -> str | None:
    """Why `workers` processes cannot run on `settings`' store, or None if they can.

    The embedded SQLite store has one writer at a time and batches commits inside
    its process: several processes would queue on its lock (``busy_timeout_ms``)
    for no gain in throughput, so the gateway refuses rather than run slower.
    """
    if workers > 1 and settings.store_url.startswith("sqlite:///"):
        return (
            f"--workers {workers} needs PostgreSQL (store.url = postgresql://...): the "
            "embedded SQLite store has a single writer, so several processes would only "
            "wait on each other. Run one process on SQLite, or move to PostgreSQL."
        )
    return None


def prepare_shared_state(settings: Settings) -> None:
    """Do once, before the workers start, what each would do on a first start.

    Migrations (so no worker applies one while another serves), the PII key ring
    and the audit checkpoint key (so no two workers create different ones).
    Raises `TongbanError` (store, keys) with the reason.
    """
    from gateway.audit.checkpoints import load_or_create_key
    from gateway.audit.service import checkpoint_key_path
    from gateway.security.wiring import key_passphrase, pii_cipher
    from gateway.store import open_store

    async def migrate() -> None:
        store = await open_store(settings)  # brings the schema up to date
        await store.aclose()

    asyncio.run(migrate())
    pii_cipher(settings)
    load_or_create_key(checkpoint_key_path(settings), key_passphrase(settings))


async def announce_ready(parent_fd: int) -> None:
    """In a worker, once listening: tell the parent, and stop when the parent goes away."""
    link = socket.socket(fileno=parent_fd)
    link.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(link, READY)

    def parent_gone() -> None:
        try:
            data = link.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(link)
            log.warning("workers.parent_gone", pid=os.getpid())
            os.kill(os.getpid(), signal.SIGTERM)  # the orderly stop of `serve`

    loop.add_reader(link, parent_gone)


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process
    link: socket.socket
    started: float = field(default_factory=time.monotonic)
    ready: bool = False


class Supervisor:
    """Runs `count` workers from `command` until SIGTERM or SIGINT; see the module doc."""

    def __init__(
        self,
        count: int,
        command: WorkerCommand,
        sockets: Sequence[socket.socket],
        *,
        shutdown_timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        self._count = count
        self._command = command
        self._fds = [sock.fileno() for sock in sockets]
        self._shutdown_timeout = shutdown_timeout
        self._env = env
        self._workers: dict[int, _Worker] = {}
        self._stopping = asyncio.Event()
        self._failure: str | None = None
        self.restarts = 0

    async def run(self) -> int:
        """Supervise until told to stop; 0 after a clean stop, 1 if a worker cannot start."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._forward_hangup)
        slots = [asyncio.create_task(self._keep(index)) for index in range(self._count)]
        try:
            await self._stopping.wait()
            log.info("workers.stopping", workers=len(self._workers))
            await self._stop_all()
        finally:
            for slot in slots:
                slot.cancel()
            await asyncio.gather(*slots, return_exceptions=True)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        if self._failure is not None:
            log.error("workers.failed", reason=self._failure)
            return 1
        log.info("workers.stopped", restarts=self.restarts)
        return 0

    @property
    def failure(self) -> str | None:
        return self._failure

    async def _keep(self, index: int) -> None:
        """Keep worker `index` running: start it, wait for it, restart it if it dies."""
        delay = 0.0
        ever_ready = False
        while not self._stopping.is_set():
            worker = await self._spawn(index)
            worker.ready = await self._wait_ready(worker)
            if worker.ready:
                ever_ready = True
                log.info("workers.worker_ready", worker=index, pid=worker.process.pid)
            status = await worker.process.wait()
            worker.link.close()
            self._workers.pop(index, None)
            if self._stopping.is_set():
                return
            if not ever_ready:
                # Never served: the same settings would fail again (bad key, store down).
                self._failure = f"worker {index} exited with status {status} before it was ready"
                self._stopping.set()
                return
            lived = time.monotonic() - worker.started
            delay = (
                0.0
                if lived >= _QUICK_DEATH_SECONDS
                else min(_MAX_RESTART_DELAY, max(0.5, delay * 2))
            )
            log.error(
                "workers.worker_died", worker=index, pid=worker.process.pid, status=status,
                lived_s=round(lived, 1), restart_in_s=delay,
            )  # fmt: skip
            self.restarts += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _spawn(self, index: int) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(self._fds, theirs.fileno()),
                pass_fds=(*self._fds, theirs.fileno()),
                start_new_session=True,  # terminal signals reach the parent only
                env=self._env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the worker's copy is the only one: its death closes the link
        ours.setblocking(False)
        worker = _Worker(index, process, ours)
        self._workers[index] = worker
        log.info("workers.worker_started", worker=index, pid=process.pid)
        return worker

    async def _wait_ready(self, worker: _Worker) -> bool:
        """True once the worker says it listens; False if it exits (or closes) first."""
        try:
            data = await asyncio.get_running_loop().sock_recv(worker.link, len(READY))
        except OSError:
            return False
        return data == READY

    def _forward_hangup(self) -> None:
        # Only to workers that serve: before its handler is installed SIGHUP would kill
        # one, and a worker still starting reads the keys afresh anyway.
        signalled = []
        for worker in list(self._workers.values()):
            if worker.ready and worker.process.returncode is None:
                worker.process.send_signal(signal.SIGHUP)
                signalled.append(worker.process.pid)
        log.info("workers.hangup_forwarded", pids=signalled)

    async def _stop_all(self) -> None:
        """SIGTERM every worker, wait for their orderly stop, then SIGKILL what is left."""
        live = [w for w in self._workers.values() if w.process.returncode is None]
        for worker in live:
            worker.process.send_signal(signal.SIGTERM)
        waiting = [worker.process.wait() for worker in live]
        try:
            async with asyncio.timeout(self._shutdown_timeout + _KILL_MARGIN):
                await asyncio.gather(*waiting)
        except TimeoutError:
            for worker in live:
                if worker.process.returncode is None:
                    log.error("workers.worker_killed", worker=worker.index, pid=worker.process.pid)
                    worker.process.kill()
            await asyncio.gather(*(worker.process.wait() for worker in live))


def supervise(
    settings: Settings,
    count: int,
    command: WorkerCommand,
    *,
    env: dict[str, str] | None = None,
) -> int:
    """Bind, prepare the shared state, run `count` workers; the exit status.

    Raises `OSError` if the port is taken (before anything else), `TongbanError` if
    the store or the keys cannot be prepared.
    """
    from gateway.server import bind

    sockets = bind(settings.server.host, settings.server.port)
    try:
        prepare_shared_state(settings)
        port = sockets[0].getsockname()[1]
        log.info("workers.listening", host=settings.server.host, port=port, workers=count)
        supervisor = Supervisor(
            count, command, sockets, shutdown_timeout=settings.server.shutdown_timeout, env=env
        )
        return asyncio.run(supervisor.run())
    finally:
        for sock in sockets:
            sock.close()


__all__ = [
    "READY",
    "Supervisor",
    "announce_ready",
    "prepare_shared_state",
    "refuse_embedded_store",
    "supervise",
]
