"""The partner API's request bodies, made from an envelope (contracts/openapi.yaml).

A submission becomes an ``ApplicationRequest``: the same applicant, materials (by
their files' SHA-256), form and delivery the receiving region took in, with
``receiving_region`` kept, so the peer records where the applicant stood.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.base import HttpResponse
from gateway.envelope import (
    Envelope,
    EnvelopeMaterial,
    Party,
    RatingBody,
    SubmissionBody,
    SupplementBody,
    WithdrawalBody,
)
from gateway.errors import RegionRejected
from gateway.jsonio import JsonRefused, load_json

_MISSING_FILE = re.compile(r"^materials\.(\d+)\.attachments\.(\d+)$")


def _applicant(region: str, party: Party) -> dict[str, Any]:
    if party.kind == "person":
        return {
            "kind": "person",
            "name": party.name,
            "id_type": party.id_type,
            "id_number": party.id_number,
        }
    # The envelope names an enterprise's legal representative but not their ID
    # document, which the partner API requires: refuse plainly rather than invent one.
    raise RegionRejected(
        region,
        "enterprise_not_federated",
        "an enterprise applicant cannot be forwarded to a peer gateway yet "
        "(the envelope does not carry the legal representative's ID)",
    )


def _material(material: EnvelopeMaterial) -> dict[str, Any]:
    """One material as the partner API takes it: its files by SHA-256 digest."""
    return {
        "material_id": material.material_id,
        "provided": material.provided,
        "trust_level": material.trust_level.value,
        "attachments": list(material.attachments),
    }


def application_request(region: str, envelope: Envelope, body: SubmissionBody) -> dict[str, Any]:
    """The ``ApplicationRequest`` for a submission envelope."""
    if not body.applicant.phone:
        raise RegionRejected(region, "no_phone", "the application has no contact phone")
    request: dict[str, Any] = {
        "item_code": envelope.item_code,
        "receiving_region": envelope.receiving_region,
        "channel": body.channel.value,
        "handling_mode": body.handling_mode.value,
        "applicant": _applicant(region, body.applicant),
        "phone": body.applicant.phone,
        "delivery": body.delivery.model_dump(mode="json", exclude_none=True),
        "materials": [_material(material) for material in body.materials],
        "form": body.form,
    }
    if body.agent is not None:
        request["agent"] = {
            "name": body.agent.name,
            "id_type": body.agent.id_type,
            "id_number": body.agent.id_number,
        }
    return request


def followup_request(envelope: Envelope) -> dict[str, Any]:
    """The body of a supplement, withdrawal or rating."""
    body = envelope.body
    if isinstance(body, SupplementBody):
        return {"materials": [_material(material) for material in body.materials]}
    if isinstance(body, WithdrawalBody):
        return {"reason": body.reason}
    if isinstance(body, RatingBody):
        rating: dict[str, Any] = {
            "setting": "online",
            "level": body.level,
            "indicators": body.indicators,
        }
        if body.comment:
            rating["comment"] = body.comment
        return rating
    raise TypeError(f"not a follow-up: {envelope.kind}")


def missing_attachments(response: HttpResponse, request: dict[str, Any]) -> list[str]:
    """The digests a 422 answer reports as not uploaded (code ``missing``), in order."""
    if response.status != 422:
        return []
    try:
        answer = load_json(response.body, max_bytes=1024 * 1024)
    except JsonRefused:
        return []
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not isinstance(errors, list):
        return []
    missing: list[str] = []
    for error in errors:
        if not isinstance(error, dict):
            return []
        where = _MISSING_FILE.match(str(error.get("field", "")))
        if where is None or error.get("code") != "missing":
            # Only when every error is a missing file does uploading help.
            return []
        material, position = int(where.group(1)), int(where.group(2))
        try:
            digest = request["materials"][material]["attachments"][position]
        except (IndexError, KeyError):
            return []
        if digest not in missing:
            missing.append(digest)
    return missing
