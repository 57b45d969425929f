"""The witness: each peer's audit log, watched from outside, so it cannot be rewritten unseen.

Every ``federation.witness_interval_seconds`` the witness fetches each peer's
latest signed checkpoint (``GET /v1/audit/checkpoints/latest``, its signature
checked with the peer's ``GET /v1/audit/keys``) and compares it with the last one
it kept for that peer:

- none yet: kept (``first``);
- same size and root: nothing new;
- larger: the peer's consistency proof (``GET /v1/audit/consistency``) must show
  the kept tree is a prefix of the new one (RFC 9162), else the log **forked**;
- smaller: the log **shrank**; same size, other root: it **forked**.

Every new checkpoint seen is stored with its verdict (``witnessed_checkpoints``).
An inconsistent one is reported at once: the ``tongban_witness_inconsistent``
gauge, the ``witness`` detail of ``/readyz`` (it does not make us unready: the
fault is the peer's), and an ERROR log line naming both checkpoints. The last
consistent checkpoint per peer is what ``GET /v1/audit/witness`` publishes, with
our cosignature (`gateway.federation.cosign`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from adapters.base import HttpClient, json_object
from gateway.audit.checkpoints import Checkpoint, load_public_keys_from_jwks, signature_problem
from gateway.audit.merkle import verify_consistency
from gateway.audit.trusted import saved_document
from gateway.config import FederationSettings
from gateway.errors import AdapterError
from gateway.store import Store

log = structlog.get_logger(__name__)

FIRST, CONSISTENT, INCONSISTENT = "first", "consistent", "inconsistent"


@dataclass(frozen=True)
class Observation:
    """What one look at a peer's log found."""

    peer: str
    verdict: str  # first | consistent | unchanged | inconsistent | unavailable
    tree_size: int | None = None
    detail: str | None = None


class Witness:
    """Watches every peer's audit log; `problems` holds the peers found inconsistent."""

    def __init__(
        self,
        settings: FederationSettings,
        store: Store,
        http: HttpClient,
        *,
        on_inconsistent: Callable[[str], None] | None = None,
    ) -> None:
        self._peers = {
            peer_id: peer.base_url.rstrip("/") for peer_id, peer in settings.peers.items()
        }
        self._interval = settings.witness_interval_seconds
        self._store = store
        self._http = http
        self._on_inconsistent = on_inconsistent
        self.problems: dict[str, str] = {}
        self.last: dict[str, Observation] = {}

    @property
    def peers(self) -> tuple[str, ...]:
        return tuple(self._peers)

    async def run(self) -> None:
        """Observe every peer, every interval, until cancelled."""
        while True:
            for peer_id in self._peers:
                await self.observe(peer_id)
            await asyncio.sleep(self._interval)

    async def observe(self, peer_id: str) -> Observation:
        """Fetch `peer_id`'s latest checkpoint, judge it, store it; never raises for the peer."""
        try:
            observation = await self._observe(peer_id)
        except AdapterError as exc:
            observation = Observation(peer_id, "unavailable", detail=str(exc))
            log.warning("federation.witness_unavailable", peer=peer_id, error=str(exc))
        self.last[peer_id] = observation
        return observation

    async def _get(self, peer_id: str, path: str) -> dict[str, Any]:
        response = await self._http.request(
            "GET", self._peers[peer_id] + path, region=f"peer:{peer_id}"
        )
        if response.status != 200:
            raise AdapterError(f"peer:{peer_id}", f"{path} answered HTTP {response.status}")
        return json_object(f"peer:{peer_id}", response.body)

    async def _observe(self, peer_id: str) -> Observation:
        keys_document = await self._get(peer_id, "/v1/audit/keys")
        document = await self._get(peer_id, "/v1/audit/checkpoints/latest")
        try:
            keys = load_public_keys_from_jwks(keys_document)
            seen = Checkpoint.from_json(document)
        except (ValueError, KeyError, TypeError) as exc:
            raise AdapterError(f"peer:{peer_id}", f"unreadable checkpoint: {exc}") from exc
        problem = signature_problem(seen, keys)
        if problem is not None:
            raise AdapterError(f"peer:{peer_id}", f"checkpoint signature: {problem}")
        kept = await self._kept(peer_id)
        if kept is None:
            await self._store_seen(peer_id, seen, keys, FIRST, None)
            return Observation(peer_id, FIRST, seen.tree_size)
        if seen.tree_size == kept.tree_size and seen.root_hash == kept.root_hash:
            return Observation(peer_id, "unchanged", seen.tree_size)
        detail = await self._inconsistency(peer_id, kept, seen)
        if detail is None:
            await self._store_seen(peer_id, seen, keys, CONSISTENT, None)
            return Observation(peer_id, CONSISTENT, seen.tree_size)
        await self._store_seen(peer_id, seen, keys, INCONSISTENT, detail)
        self.problems[peer_id] = detail
        log.error(
            "federation.witness_inconsistent",
            peer=peer_id,
            reason=detail,
            kept_checkpoint=f"size {kept.tree_size} root {kept.root_hash.hex()} at {kept.time}",
            seen_checkpoint=f"size {seen.tree_size} root {seen.root_hash.hex()} at {seen.time}",
        )
        if self._on_inconsistent is not None:
            self._on_inconsistent(peer_id)
        return Observation(peer_id, INCONSISTENT, seen.tree_size, detail)

    async def _inconsistency(self, peer_id: str, kept: Checkpoint, seen: Checkpoint) -> str | None:
        """Why `seen` cannot follow `kept`, or None when the peer proves it does."""
        if seen.tree_size < kept.tree_size:
            return f"the log shrank from {kept.tree_size} to {seen.tree_size} entries"
        if seen.tree_size == kept.tree_size:
            return f"the log forked: two roots for {seen.tree_size} entries"
        proof = await self._get(
            peer_id, f"/v1/audit/consistency?first={kept.tree_size}&second={seen.tree_size}"
        )
        try:
            path = [bytes.fromhex(h) for h in proof["path"]]
        except (KeyError, TypeError, ValueError):
            return "the log forked: its consistency proof is unreadable"
        if not verify_consistency(
            kept.tree_size, seen.tree_size, kept.root_hash, seen.root_hash, path
        ):
            return (
                f"the log forked: entries before {kept.tree_size} are no longer the ones "
                "it signed (the consistency proof fails)"
            )
        return None

    async def _kept(self, peer_id: str) -> Checkpoint | None:
        document = await self.kept_document(peer_id)
        return None if document is None else Checkpoint.from_json(document)

    async def kept_document(self, peer_id: str) -> dict[str, Any] | None:
        """The last consistent checkpoint kept for `peer_id`, with the keys it verified with."""
        async with self._store.transaction() as conn:
            row = await conn.fetch_one(
                "SELECT checkpoint FROM witnessed_checkpoints WHERE peer = :peer "
                "AND verdict != :bad ORDER BY tree_size DESC, id DESC LIMIT 1",
                {"peer": peer_id, "bad": INCONSISTENT},
            )
        if row is None:
            return None
        document: dict[str, Any] = json.loads(row["checkpoint"])
        return document

    async def _store_seen(
        self,
        peer_id: str,
        checkpoint: Checkpoint,
        keys: Mapping[str, Any],
        verdict: str,
        detail: str | None,
    ) -> None:
        async with self._store.transaction() as conn:
            await conn.execute(
                "INSERT INTO witnessed_checkpoints (peer, tree_size, root_hash, checkpoint, "
                "verdict, detail, seen_at) VALUES (:peer, :size, :root, :checkpoint, :verdict, "
                ":detail, :now)",
                {
                    "peer": peer_id,
                    "size": checkpoint.tree_size,
                    "root": checkpoint.root_hash.hex(),
                    "checkpoint": json.dumps(saved_document(checkpoint, keys)),
                    "verdict": verdict,
                    "detail": detail,
                    "now": datetime.now(UTC).isoformat(),
                },
            )

    def readiness(self) -> dict[str, Any]:
        """The ``/readyz`` detail: each peer's last look, and the inconsistent ones."""
        return {
            "peers": {
                peer_id: {"verdict": o.verdict, "tree_size": o.tree_size, "detail": o.detail}
                for peer_id, o in self.last.items()
            },
            "inconsistent": dict(self.problems),
        }
