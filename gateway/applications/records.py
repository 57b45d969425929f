"""From a request to a stored row, and from a row to what callers see.

Personal data (applicant, agent, phone, delivery address, form, remarks) is sealed
into one AES-GCM ciphertext per application; what lists and logs show is the
masked copy kept beside it (``张*``, ``440***********123X``, ``138****5678``). The
applicant's ID number is also reduced to a keyed blind index, so cases can be found
by ID number without decrypting anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.applications import deadlines, identifiers
from gateway.applications.attachments import AttachmentStore
from gateway.applications.journal import Journal
from gateway.applications.models import ApplicationRequest, EnterpriseApplicant, MaterialInput
from gateway.applications.proof import SignDocument
from gateway.catalog.catalog import Catalog
from gateway.catalog.models import Item
from gateway.config import ApplicationSettings
from gateway.envelope import EnvelopeMaterial, Party, Status
from gateway.holidays.workdays import Basis
from gateway.security.pii import PiiCipher
from gateway.store import Row, Store


@dataclass(frozen=True)
class Deps:
    """What the application services need, passed in explicitly.

    `journal` mirrors every history event into the audit log; `signer` signs
    receipts and staff attestations with the gateway key (None when the gateway
    has no unlocked key: documents then go out unsigned).
    """

    store: Store
    catalog: Catalog
    cipher: PiiCipher
    attachments: AttachmentStore
    settings: ApplicationSettings
    journal: Journal
    signer: SignDocument | None = None


def personal_of(request: ApplicationRequest) -> dict[str, Any]:
    """The personal part of a request: sealed at rest, never logged."""
    return {
        "applicant": request.applicant.model_dump(mode="json"),
        "agent": request.agent.model_dump(mode="json") if request.agent else None,
        "phone": request.phone,
        "delivery": request.delivery.model_dump(mode="json"),
        "form": request.form,
        "remarks": request.remarks,
    }


def applicant_id(request: ApplicationRequest) -> tuple[str, str]:
    """(id type, number) of the applicant: the credit code for an enterprise."""
    applicant = request.applicant
    if isinstance(applicant, EnterpriseApplicant):
        return "uscc", applicant.uscc
    return applicant.id_type, applicant.id_number


def masked_of(request: ApplicationRequest) -> dict[str, Any]:
    """The masked applicant, for lists, receipts and logs."""
    id_type, number = applicant_id(request)
    masked: dict[str, Any] = {
        "kind": request.applicant.kind,
        "name": identifiers.mask_name(request.applicant.name),
        "id_type": id_type,
        "id_number": identifiers.mask_id_number(number),
        "phone": identifiers.mask_phone(request.phone),
        "delivery": request.delivery.method,
    }
    if request.delivery.address:
        masked["address"] = identifiers.mask_address(request.delivery.address)
    if request.agent is not None:
        masked["agent"] = identifiers.mask_name(request.agent.name)
    return masked


def party_of(personal: dict[str, Any]) -> tuple[Party, Party | None]:
    """The applicant and agent as the competent region needs them, in the clear."""
    applicant = personal["applicant"]
    if applicant["kind"] == "enterprise":
        representative = applicant["legal_representative"]
        party = Party(
            kind="enterprise",
            name=applicant["name"],
            id_type="uscc",
            id_number=applicant["uscc"],
            phone=personal["phone"],
            legal_representative=representative["name"],
        )
    else:
        party = Party(
            kind="person",
            name=applicant["name"],
            id_type=applicant["id_type"],
            id_number=applicant["id_number"],
            phone=personal["phone"],
        )
    agent = personal.get("agent")
    if agent is None:
        return party, None
    return party, Party(
        kind="person", name=agent["name"], id_type=agent["id_type"], id_number=agent["id_number"]
    )


def materials_of(inputs: tuple[MaterialInput, ...], item: Item) -> list[dict[str, Any]]:
    """The materials as stored: catalogue name and trust level filled in."""
    stored = []
    for entry in inputs:
        material = item.material(entry.material_id)
        assert material is not None  # noqa: S101 - checked by checks.material_errors
        stored.append(
            {
                "material_id": material.id,
                "material_name": material.material_name,
                "provided": entry.provided,
                "trust_level": (entry.trust_level or material.trust_level).value,
                "attachments": list(entry.attachments),
            }
        )
    return stored


def envelope_materials(stored: list[dict[str, Any]]) -> tuple[EnvelopeMaterial, ...]:
    return tuple(EnvelopeMaterial.model_validate(entry) for entry in stored)


def fingerprint(stored: list[dict[str, Any]]) -> str:
    """SHA-256 over the materials' ids and digests: equal for the same set of files."""
    parts = sorted(
        f"{m['material_id']}:{','.join(sorted(m['attachments']))}" for m in stored if m["provided"]
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def due_state(row: Row, today: date, due_soon_days: int) -> dict[str, Any]:
    """Due dates and whether the case is overdue or due soon, on `today`."""
    due = row["promised_due"] or row["legal_due"]
    running = not Status(row["status"]).is_final and row["status"] != Status.SPECIAL_PROCEDURE
    overdue = bool(running and due and date.fromisoformat(due) < today)
    soon = bool(
        running
        and due
        and not overdue
        and date.fromisoformat(due)
        <= deadlines.add_working_days(today, due_soon_days, row["competent_region"])
    )
    basis = row["calendar_basis"]
    return {
        "legal": row["legal_due"],
        "promised": row["promised_due"],
        "accepted_on": row["accepted_on"],
        "provisional": row["accepted_on"] is None,
        "paused": row["paused_since"] is not None,
        "paused_working_days": row["paused_working_days"],
        "overdue": overdue,
        "due_soon": soon,
        "calendar_basis": basis,
        "calendar_exact": basis == "exact",
    }


def summary(row: Row, today: date, due_soon_days: int) -> dict[str, Any]:
    """One application as lists show it: no personal data beyond the masked copy."""
    status = Status(row["status"])
    return {
        "id": row["id"],
        "request_id": row["request_id"],
        "item_code": row["item_code"],
        "status": status.value,
        "status_zh": status.label_zh,
        "receiving_region": row["receiving_region"],
        "competent_region": row["competent_region"],
        "region_case_no": row["region_case_no"],
        "channel": row["channel"],
        "handling_mode": row["handling_mode"],
        "applicant": json.loads(row["masked"]),
        "deferred_materials": json.loads(row["deferred_materials"]),
        "supplement_due": row["supplement_due"],
        "due": due_state(row, today, due_soon_days),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def event_view(event: Row) -> dict[str, Any]:
    return {
        "kind": event["kind"],
        "from_status": event["from_status"],
        "to_status": event["to_status"],
        "actor": event["actor"],
        "region_event_id": event["region_event_id"],
        "occurred_at": event["occurred_at"],
        "recorded_at": event["recorded_at"],
        "detail": json.loads(event["detail"]),
    }


def receipt(row: Row, item: Item, catalog: Catalog, today: date) -> dict[str, Any]:
    """The 回执: what was received, what is 容缺 and by when, and the due dates."""
    materials = json.loads(row["materials"])
    deferred = [m for m in materials if not m["provided"]]
    competent = catalog.region(item.competent_region)
    basis = receipt_basis(row, today)
    return {
        "receipt_no": row["id"],
        "received_at": row["created_at"],
        "item": {
            "code": item.code,
            "task_name": item.task_name,
            "dept_name": item.dept_name,
            "competent_region": item.competent_region,
            "competent_region_zh": competent.name_zh if competent else None,
        },
        "receiving_region": row["receiving_region"],
        "applicant": json.loads(row["masked"]),
        "received_materials": [
            {
                "material_id": m["material_id"],
                "material_name": m["material_name"],
                "trust_level": m["trust_level"],
                "attachments": len(m["attachments"]),
            }
            for m in materials
            if m["provided"]
        ],
        "deferred_materials": [
            {"material_id": m["material_id"], "material_name": m["material_name"]} for m in deferred
        ],
        "supplement_due": row["supplement_due"],
        "due_dates": {
            "legal": row["legal_due"],
            "promised": row["promised_due"],
            "counted_from": "acceptance",
            "provisional_from": today.isoformat(),
            "calendar_basis": basis.status,
            "calendar_exact": basis.exact,
            "calendar_unconfirmed_years": basis.inexact_years(),
        },
        "notice_zh": _notice(deferred, row["supplement_due"], basis),
    }


def receipt_basis(row: Row, today: date) -> Basis:
    """How exact the dates a receipt shows are: the due dates and the 容缺 deadline."""
    last = max(
        (
            date.fromisoformat(d)
            for d in (row["legal_due"], row["promised_due"], row["supplement_due"])
            if d
        ),
        default=today,
    )
    return deadlines.basis(today, last, row["competent_region"])


def _notice(deferred: list[dict[str, Any]], supplement_due: str | None, basis: Basis) -> str:
    text = "本回执证明窗口已收件，是否受理以业务属地通知为准；办结时限自受理之日起按工作日计算。"
    if deferred:
        names = "、".join(m["material_name"] for m in deferred)
        text += f"容缺材料（{names}）请于{supplement_due}前补齐，逾期可能不予受理。"
    if not basis.exact:
        years = "、".join(f"{year}年" for year in basis.inexact_years())
        text += (
            f"{years}的节假日安排尚未由国务院办公厅公布，上述日期为暂定，"
            "公布后将重新计算并另行告知。"
        )
    return text
