"""Running the purge: once from the CLI, or on a schedule inside the gateway.

`run_purge` purges, deletes the attachment files of purged cases (after the commit,
off the event loop) and, on SQLite, truncates the WAL so no old page image keeps
the purged bytes. `retention_context` is the app's scheduled job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from gateway.app_keys import APPLICATIONS, AUDIT, SETTINGS, STORE
from gateway.applications.attachments import AttachmentStore
from gateway.audit.log import AuditLog
from gateway.config import Settings
from gateway.retention.purge import PurgeReport, purge_due
from gateway.security.pii import PiiCipher
from gateway.store import SQLiteStore, Store

__all__ = ["retention_context", "run_purge"]

log = structlog.get_logger("gateway.retention")
_WAL_TRIES = 5


def _delete_files(directory: Path, digests: list[str]) -> int:
    files = AttachmentStore(directory, max_bytes=1, media_types=())
    deleted = 0
    for digest in digests:
        path = files.path_of(digest)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted += 1
    return deleted


async def run_purge(
    store: Store, audit: AuditLog, cipher: PiiCipher, settings: Settings, *, dry_run: bool
) -> PurgeReport:
    """One purge run over `store` with the retention `settings`; see `purge_due`."""
    retention = settings.retention
    report = await purge_due(
        store, audit=audit, cipher=cipher, days=retention.personal_data_days,
        batch=retention.purge_batch, dry_run=dry_run,
    )  # fmt: skip
    if dry_run or not report.cases:
        return report
    deleted = await asyncio.to_thread(
        _delete_files, settings.data_dir / "attachments", report.attachments
    )
    wal_truncated = None
    if isinstance(store, SQLiteStore):
        for attempt in range(_WAL_TRIES):
            wal_truncated = await store.truncate_wal()
            if wal_truncated:
                break
            await asyncio.sleep(0.2 * (attempt + 1))
    log.info(
        "retention.purged", cases=len(report.cases), attachment_files=deleted,
        cutoff=report.cutoff, wal_truncated=wal_truncated,
    )  # fmt: skip
    return report


async def retention_context(app: web.Application) -> AsyncIterator[None]:
    """The scheduled purge: `run_purge` every ``retention.purge_interval_seconds``."""
    settings = app[SETTINGS]
    if not settings.retention.purge_enabled:
        yield
        return
    # The application's own cipher: a PII key reloaded on SIGHUP is the one used here too.
    cipher = app[APPLICATIONS].cipher

    async def loop() -> None:
        while True:
            try:
                await run_purge(app[STORE], app[AUDIT].log, cipher, settings, dry_run=False)
            except Exception:  # the job must outlive one bad run
                log.exception("retention.purge_failed")
            await asyncio.sleep(settings.retention.purge_interval_seconds)

    task = asyncio.create_task(loop(), name="retention-purge")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
