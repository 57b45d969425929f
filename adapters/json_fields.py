"""The camelCase JSON that the JSON regions share: submissions, parties, materials,
and pushed status results.

Shenzhen and Zhangjiagang (both modelled) describe these with the same field names,
as many Chinese government JSON APIs do; the mapping lives here once instead of one
region importing another's module. Each region adds its own envelope around them
(its idempotency field, signatures, encryption) and its own status codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.envelope import Envelope, EnvelopeMaterial, Party, Status, StatusEvent, SubmissionBody


def party(p: Party) -> dict[str, Any]:
    return {
        "type": p.kind,
        "name": p.name,
        "certType": p.id_type,
        "certNo": p.id_number,
        "mobile": p.phone,
        "legalPerson": p.legal_representative,
    }


def material(m: EnvelopeMaterial) -> dict[str, Any]:
    return {
        "materialId": m.material_id,
        "materialName": m.material_name,
        "provided": m.provided,
        "trustLevel": m.trust_level,
        "fileDigests": list(m.attachments),
    }


def submission(envelope: Envelope, body: SubmissionBody) -> dict[str, Any]:
    """A submission's fields, after the region's own idempotency field."""
    return {
        "applyNo": envelope.application_id,
        "itemCode": envelope.item_code,
        "taskCode": envelope.task_code,
        "receiveRegion": envelope.receiving_region,
        "handleMode": body.handling_mode,
        "channel": body.channel,
        "applicant": party(body.applicant),
        "agent": party(body.agent) if body.agent else None,
        "materials": [material(m) for m in body.materials],
        "form": body.form,
        "delivery": body.delivery.model_dump(),
        "supplementDeadline": body.supplement_deadline,
    }


def status_event(
    region: str, data: Mapping[str, Any], code: str, statuses: Mapping[str, Status]
) -> StatusEvent:
    """A pushed result: the region's status code `code` mapped through `statuses`.

    Raises `KeyError`, `TypeError` or `ValueError` for a result missing a field or
    carrying an unknown code or a bad time; the caller refuses the callback.
    """
    return StatusEvent(
        event_id=str(data["eventId"]),
        region=region,
        region_case_no=str(data["caseNo"]),
        application_id=data.get("applyNo"),
        status=statuses[code],
        occurred_at=datetime.fromisoformat(data["statusTime"]),
        region_code=code,
        message=data.get("opinion"),
        missing_materials=tuple(data.get("missingMaterials") or ()),
        certificate_no=data.get("certNo"),
    )
