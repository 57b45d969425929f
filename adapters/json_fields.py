"""Applicant and material objects in the camelCase JSON that the JSON regions share.

Shenzhen and Zhangjiagang (both modelled) describe parties and materials with the
same field names, as many Chinese government JSON APIs do; the mapping lives here
once instead of one region importing another's module.
"""

from __future__ import annotations

from typing import Any

from gateway.envelope import EnvelopeMaterial, Party


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
