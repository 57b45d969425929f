"""Plugging federation into the app: peer adapters, peer keys, the witness.

Every region a peer is routed (``federation.peers.NAME.regions``) gets a `peer`
adapter (found through the entry-point group, like every adapter) pointed at that
peer, signing with this gateway's key, reading the application's files from our
attachment store, and verifying the peer's status notices as a partner request of
that very peer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import structlog
from aiohttp import web

from adapters.base import (
    Adapter,
    AdapterConfig,
    AttachmentSource,
    HttpClient,
    RequestVerifier,
    SignRequest,
)
from gateway.app_keys import AUTHENTICATOR, GATEWAY_KEYS
from gateway.config import Settings
from gateway.errors import KeyStoreError, PluginError, RegionUnavailable
from gateway.problems import Problem
from gateway.store import Store

log = structlog.get_logger(__name__)

PEER_PLUGIN = "peer"


def gateway_signer(app: web.Application, region: str) -> SignRequest:
    """Signs with the active gateway key; while it cannot sign, the delivery waits."""

    def sign(method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        try:
            signer = app[GATEWAY_KEYS].request_signer()
        except KeyStoreError as exc:
            raise RegionUnavailable(region, f"this gateway cannot sign: {exc}") from exc
        return signer(method, url, headers, body)

    return sign


def peer_verifier(peer_id: str) -> RequestVerifier:
    """Accepts a request signed by one of `peer_id`'s keys (checked as a partner request:
    signature, digest, freshness, nonce), and nobody else's."""

    async def verify(request: web.Request, body: bytes) -> bool:
        try:
            authenticated = await request.app[AUTHENTICATOR].authenticate(request)
        except Problem:
            return False  # the refusal is logged by the authenticator
        if authenticated.partner.id != peer_id:
            log.warning(
                "federation.notice_from_wrong_peer",
                expected=peer_id,
                signed_by=authenticated.partner.id,
            )
            return False
        return True

    return verify


def attachment_source(store: Store, directory: Path) -> AttachmentSource:
    """Reads a stored attachment and its media type by digest."""

    async def read(digest: str) -> tuple[bytes, str] | None:
        async with store.read() as conn:
            row = await conn.fetch_one(
                "SELECT media_type FROM attachments WHERE digest = :d", {"d": digest}
            )
        path = directory / digest[:2] / digest[2:4] / digest
        if row is None:
            return None
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        return data, str(row["media_type"])

    return read


def peer_adapters(
    app: web.Application,
    settings: Settings,
    store: Store,
    http: HttpClient,
    factory: object,
) -> dict[str, Adapter]:
    """One `peer` adapter per region routed to a peer."""
    if not callable(factory):
        raise PluginError("the peer adapter plugin is not callable")
    adapters: dict[str, Adapter] = {}
    files = attachment_source(store, settings.data_dir / "attachments")
    callback_base = settings.adapters.callback_base_url.rstrip("/")
    for peer_id, peer in settings.federation.peers.items():
        for region in peer.regions:
            config = AdapterConfig(
                region=region,
                settings={"url": peer.base_url},
                timeout=settings.adapters.timeout,
                health_timeout=settings.adapters.health_timeout,
                callback_url=f"{callback_base}/v1/regions/{region}/callbacks",
                signer=gateway_signer(app, region),
                verifier=peer_verifier(peer_id),
                attachments=files,
            )
            adapter = factory(config, http)
            if not isinstance(adapter, Adapter):
                raise PluginError(f"the peer plugin returned {type(adapter).__name__}")
            adapters[region] = adapter
            log.info("federation.peer_routed", peer=peer_id, region=region, url=peer.base_url)
    return adapters


def routed_regions(settings: Settings) -> Mapping[str, str]:
    """Region -> the peer it is routed to."""
    return {
        region: peer_id
        for peer_id, peer in settings.federation.peers.items()
        for region in peer.regions
    }
