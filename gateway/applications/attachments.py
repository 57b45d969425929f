"""Attachments: uploaded files stored once, named by their SHA-256.

A file lives at ``<data_dir>/attachments/ab/cd/<digest>`` (the first two pairs of
hex digits fan the directory out). An upload is streamed to a temporary file in
the same directory tree, hashed on the way, checked against the size limit and
the declared media type's magic bytes, then renamed into place: a reader never
sees half a file, and uploading the same bytes twice stores them once. All file
work runs in a thread, so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from gateway.errors import AttachmentError
from gateway.store import Store

# Leading bytes of the media types we can recognise; others are taken as declared.
_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/ofd": (b"PK\x03\x04",),  # OFD (GB/T 33190) is a ZIP container
}


@dataclass(frozen=True)
class StoredAttachment:
    """What `AttachmentStore.save` stored: digest, size, media type, and whether it was new."""

    digest: str
    size: int
    media_type: str
    created: bool


class AttachmentStore:
    """Content-addressed files under one directory, with size and media-type limits."""

    def __init__(self, directory: Path, *, max_bytes: int, media_types: tuple[str, ...]) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.media_types = media_types

    def path_of(self, digest: str) -> Path:
        """Where the file with `digest` lives (whether or not it exists)."""
        return self.directory / digest[:2] / digest[2:4] / digest

    async def present(self, digests: Collection[str]) -> set[str]:
        """Those of `digests` whose file is stored, checked in one thread hop."""
        if not digests:
            return set()
        paths = {digest: self.path_of(digest) for digest in digests}
        return await asyncio.to_thread(
            lambda: {digest for digest, path in paths.items() if path.is_file()}
        )

    async def save(self, chunks: AsyncIterator[bytes], media_type: str) -> StoredAttachment:
        """Stream `chunks` into the store; raise `AttachmentError` (413 or 415) if refused."""
        media_type = media_type.split(";")[0].strip().lower()
        if media_type not in self.media_types:
            raise AttachmentError(
                415, f"不接受此文件类型（{media_type}），可上传：{'、'.join(self.media_types)}"
            )
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        file = await asyncio.to_thread(_open_temp, self.directory)
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    raise AttachmentError(413, f"文件超过大小上限（{self.max_bytes} 字节）")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                await asyncio.to_thread(_write, file, digest, chunk)
            if size == 0:
                raise AttachmentError(415, "文件为空")
            magic = _MAGIC.get(media_type)
            if magic is not None and not head.startswith(magic):
                raise AttachmentError(415, f"文件内容与声明的类型（{media_type}）不符")
            hexdigest = digest.hexdigest()
            created = await asyncio.to_thread(_publish, file, self.path_of(hexdigest))
        except BaseException:
            await asyncio.to_thread(_discard, file)
            raise
        return StoredAttachment(hexdigest, size, media_type, created)


def _open_temp(directory: Path) -> IO[bytes]:
    # Closed by _publish or _discard, in another thread call: no context manager here.
    return tempfile.NamedTemporaryFile(dir=directory, prefix=".upload-", delete=False)


def _write(file: IO[bytes], digest: hashlib._Hash, chunk: bytes) -> None:
    file.write(chunk)
    digest.update(chunk)


def _publish(file: IO[bytes], target: Path) -> bool:
    """Make the temp file durable and move it to `target`; False if it was already there."""
    file.flush()
    os.fsync(file.fileno())
    file.close()
    if target.exists():
        os.unlink(file.name)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(file.name, target)
    return True


def _discard(file: IO[bytes]) -> None:
    file.close()
    if os.path.exists(file.name):
        os.unlink(file.name)


async def record_attachment(store: Store, stored: StoredAttachment) -> None:
    """Writes: register a saved file in ``attachments`` (once per digest)."""
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO attachments (digest, media_type, size, created_at) VALUES (:digest, "
            ":media_type, :size, :now) ON CONFLICT (digest) DO NOTHING",
            {
                "digest": stored.digest,
                "media_type": stored.media_type,
                "size": stored.size,
                "now": datetime.now(UTC).isoformat(),
            },
        )
