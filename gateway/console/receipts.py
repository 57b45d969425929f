"""The receipt (回执) as a printable page: the signed receipt intake issued, and a QR code.

The receipt shown is the one intake signed and answered with (kept with the
form's Idempotency-Key). If that record has been purged, the receipt is issued
again from the stored case through the same functions, and the page says so.
The QR code (segno, inline SVG) carries the case's status link.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import segno
from aiohttp import web

from gateway.app_keys import CATALOG, SETTINGS
from gateway.applications import clocks, history, proof, records
from gateway.applications.records import Deps
from gateway.console import text
from gateway.console.catalogue import region_names
from gateway.staff import accounts


async def signed_receipt(deps: Deps, application_id: str) -> tuple[dict[str, Any], bool]:
    """The receipt intake issued for the case, or a re-issued one; and whether re-issued."""
    async with deps.store.read() as conn:
        kept = await conn.fetch_one(
            "SELECT response FROM idempotency_keys WHERE application_id = :id "
            "AND status_code = 202 ORDER BY created_at LIMIT 1",
            {"id": application_id},
        )
        if kept is not None:
            receipt: dict[str, Any] = json.loads(kept["response"])["receipt"]
            return receipt, False
        row = await history.load(conn, application_id)
        position = await deps.journal.received_position(conn, application_id)
    item = deps.catalog.get(row["item_code"])
    if item is None:
        raise web.HTTPNotFound(text="此办件的事项已不在目录中，无法补打回执。")
    day = clocks.local_date(clocks.now_utc())
    issued = records.receipt(row, item, deps.catalog, day)
    return proof.seal_receipt(issued, row, position, deps.signer), True


def signature_id(signed: dict[str, Any]) -> tuple[str | None, str | None]:
    """The signing key id and a short id of the signature (SHA-256 of the JWS, 16 hex)."""
    jws = signed.get("jws")
    if not isinstance(jws, str):
        return None, None
    header = json.loads(base64.urlsafe_b64decode(jws.split(".")[0] + "=="))
    return header.get("kid"), hashlib.sha256(jws.encode()).hexdigest()[:16]


def status_link(request: web.Request, application_id: str) -> str:
    base = request.config_dict[SETTINGS].console.public_url
    origin = base.rstrip("/") if base else f"{request.scheme}://{request.host}/console"
    return f"{origin}/cases/{application_id}"


async def receipt_view(request: web.Request, deps: Deps, case: dict[str, Any]) -> dict[str, Any]:
    """Everything the 回执 page prints."""
    signed, reissued = await signed_receipt(deps, case["id"])
    kid, short = signature_id(signed)
    link = status_link(request, case["id"])
    qr = segno.make(link, error="m").svg_inline(scale=1, border=2, omitsize=True)
    centre = None
    async with deps.store.read() as conn:
        row = await history.load(conn, case["id"])
        submitter = row["submitted_by"]
        if submitter.startswith("staff:"):
            account = await accounts.get(conn, submitter.removeprefix("staff:"))
            centre = account.centre_name if account else None
    catalog = request.config_dict[CATALOG]
    return {
        "case": case,
        "receipt": signed,
        "signed": signed,
        "reissued": reissued,
        "kid": kid,
        "signature_short": short,
        "qr_svg": qr,
        "status_link": link,
        "centre_name": centre,
        "submitter": submitter,
        "regions": region_names(catalog),
        "item": catalog.get(case["item_code"]),
        "received_at": text.when(signed.get("received_at")),
        "day": text.day,
    }
