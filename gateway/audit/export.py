"""Export files: a range of entries an auditor can verify offline, and their verification.

An export is JSON Lines (UTF-8), in this order:

1. a ``header``: format, origin, the range ``from``..``to`` (inclusive), the
   anchor ``tree_size``, the public keys (JWKS) and the range proof: ``left``,
   the subtree hashes covering entries ``[0, from)``, and ``right``, those
   covering ``[to + 1, tree_size)`` (`merkle.decompose` order, hex);
2. the ``checkpoint`` lines: every checkpoint inside the range, and the anchor
   (the first checkpoint covering ``to``);
3. the ``entry`` lines, in order, with their data as a JSON object.

With the left hashes, the entries' recomputed leaves and the right hashes, the
verifier rebuilds the anchor's root and every checkpoint inside the range, and
checks their signatures: no access to the gateway needed. Keys are best pinned
by the auditor (``--key``) rather than taken from the file.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.canonical import canonical_json
from gateway.audit.checkpoints import Checkpoint, load_public_keys_from_jwks
from gateway.audit.log import Entry, format_time
from gateway.audit.proofs import ProofService
from gateway.audit.verify import Report, Verifier
from gateway.errors import AuditFileError, InvalidAuditEntry, ProofUnavailable
from gateway.store import Store

__all__ = ["EXPORT_FORMAT", "ExportSummary", "verify_export", "write_export"]

EXPORT_FORMAT = "tongban-audit-export/v1"
_PAGE = 5_000
_ENTRIES = (
    "SELECT * FROM audit_entries WHERE seq >= :begin AND seq <= :last ORDER BY seq LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export holds."""

    path: Path
    first: int
    last: int
    entries: int
    checkpoints: int
    tree_size: int


def _line(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


async def write_export(
    store: Store,
    proofs: ProofService,
    path: Path,
    *,
    first: int = 0,
    last: int | None = None,
    keys: Sequence[Mapping[str, str]],
    now: str | None = None,
) -> ExportSummary:
    """Write entries `first`..`last` (inclusive) with checkpoints and proofs to `path`.

    `last` defaults to the last entry covered by the latest checkpoint; `keys`
    are the public JWKs to include. Written to a temporary file and renamed, so
    `path` is never left half-written. Raises `ProofUnavailable` if the range is
    not covered by a checkpoint yet, `AuditFileError` if `path` cannot be written.
    """
    async with store.read() as conn:
        rows = await conn.fetch_all("SELECT * FROM audit_checkpoints ORDER BY tree_size")
    checkpoints = [Checkpoint.from_row(row) for row in rows]
    if not checkpoints:
        raise ProofUnavailable("no checkpoint yet: nothing can be exported with a proof")
    covered = checkpoints[-1].tree_size - 1
    last = covered if last is None else last
    if not 0 <= first <= last:
        raise ProofUnavailable(f"empty range: from {first} to {last}")
    if last > covered:
        raise ProofUnavailable(
            f"entries after {covered} are not covered by a signed checkpoint yet; "
            "export up to there, or wait for the next checkpoint"
        )
    anchor = next(c for c in checkpoints if c.tree_size > last)
    included = [c for c in checkpoints if first < c.tree_size <= last + 1 or c is anchor]
    left, right = await proofs.range_proof(first, last + 1, anchor.tree_size)
    header = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "origin": anchor.origin,
        "from": first,
        "to": last,
        "tree_size": anchor.tree_size,
        "exported_at": now or format_time(datetime.now(UTC)),
        "keys": {"keys": [dict(k) for k in keys]},
        "left": [h.hex() for h in left],
        "right": [h.hex() for h in right],
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        handle = await asyncio.to_thread(temporary.open, "w", encoding="utf-8")
    except OSError as exc:
        raise AuditFileError(exc.strerror or str(exc), str(path)) from exc
    count = 0
    try:
        text = _line(header) + "".join(
            _line({"type": "checkpoint", **c.to_json()}) for c in included
        )
        await asyncio.to_thread(handle.write, text)
        begin = first
        while begin <= last:
            async with store.read() as conn:
                page = await conn.fetch_all(
                    _ENTRIES, {"begin": begin, "last": last, "limit": _PAGE}
                )
            if not page:
                break
            text = "".join(
                _line({"type": "entry", **Entry.from_row(row).to_json()}) for row in page
            )
            await asyncio.to_thread(handle.write, text)
            count += len(page)
            begin = page[-1]["seq"] + 1
        await asyncio.to_thread(_close_durably, handle)
        await asyncio.to_thread(os.replace, temporary, path)
    except BaseException:
        handle.close()
        temporary.unlink(missing_ok=True)
        raise
    return ExportSummary(path, first, last, count, len(included), anchor.tree_size)


def _close_durably(handle: IO[str]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                try:
                    document = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise AuditFileError(f"not JSON: {exc.msg}", str(path), number) from exc
                if not isinstance(document, dict):
                    raise AuditFileError("each line must be a JSON object", str(path), number)
                yield number, document
    except OSError as exc:
        raise AuditFileError(exc.strerror or str(exc), str(path)) from exc
    except UnicodeDecodeError as exc:
        raise AuditFileError("not UTF-8", str(path)) from exc


def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list):
        raise ValueError("expected a list of hex hashes")
    result = [bytes.fromhex(v) for v in values]
    if any(len(h) != 32 for h in result):
        raise ValueError("a hash is not 32 bytes")
    return result


def _entry_row(document: Mapping[str, Any]) -> dict[str, Any]:
    row = {key: document[key] for key in (
        "seq", "time", "kind", "application_id", "request_id", "trace_id", "actor", "region"
    )}  # fmt: skip
    if not isinstance(document["data"], dict):
        raise ValueError("data must be a JSON object")
    row["data"] = canonical_json(document["data"]).decode("utf-8")
    row["prev_hash"] = bytes.fromhex(document["prev_hash"])
    row["leaf_hash"] = bytes.fromhex(document["leaf_hash"])
    return row


def verify_export(
    path: Path, keys: Mapping[str, Ed25519PublicKey] | None = None
) -> tuple[Report, bool]:
    """Verify the export at `path` offline; return the report and whether keys were pinned.

    `keys` are the trusted public keys; without them the file's own keys are
    used (which proves integrity, not origin). Raises `AuditFileError` for a
    file that is not an export at all.
    """
    lines = _lines(path)
    number, header = next(lines, (1, {}))
    if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise AuditFileError(f"not a {EXPORT_FORMAT} file", str(path), number)
    try:
        first, last, size = int(header["from"]), int(header["to"]), int(header["tree_size"])
        left, right = _hashes(header["left"]), _hashes(header["right"])
        pinned = keys is not None
        trusted = keys if keys is not None else load_public_keys_from_jwks(header["keys"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditFileError(f"malformed header: {exc}", str(path), number) from exc
    checkpoints: list[Checkpoint] = []
    verifier: Verifier | None = None
    for number, document in lines:
        try:
            if document.get("type") == "checkpoint":
                if verifier is not None:
                    raise ValueError("checkpoints must come before the entries")
                checkpoints.append(Checkpoint.from_json(document))
                continue
            if document.get("type") != "entry":
                raise ValueError(f"unknown line type {document.get('type')!r}")
            if verifier is None:
                verifier = _verifier(checkpoints, trusted, header, first, left)
            row = _entry_row(document)
        except (KeyError, TypeError, ValueError, InvalidAuditEntry) as exc:
            raise AuditFileError(f"malformed line: {exc}", str(path), number) from exc
        if row["seq"] > last and not verifier.failed:
            verifier.reject(row["seq"], "inserted", f"entry {row['seq']} is beyond the range")
            break
        if not verifier.add([row]):
            break
    if verifier is None:
        verifier = _verifier(checkpoints, trusted, header, first, left)
    return verifier.finish({size: right}, end=last + 1), pinned


def _verifier(
    checkpoints: Sequence[Checkpoint],
    keys: Mapping[str, Ed25519PublicKey],
    header: Mapping[str, Any],
    first: int,
    left: Sequence[bytes],
) -> Verifier:
    return Verifier(checkpoints, keys, origin=str(header["origin"]), start=first, left=left)
