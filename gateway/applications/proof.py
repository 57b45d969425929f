"""What is kept to prove an application later, and how it is signed.

- A partner's submission: the verified RFC 9421 `SubmissionEvidence` (stored as
  JSON) and the exact body bytes it covers (sealed like personal data, since they
  are the application in clear), so `verify_evidence` can be re-run at any time.
- The receiving staff's "此件经与原件核对无误": staff id, time and the checked
  attachments' SHA-256 digests, signed by the gateway key as a detached JWS over
  RFC 8785 JSON (the same form as receipts, checked with the published JWKS).
- The receipt (回执): it carries the audit position of the ``application.received``
  entry (for an inclusion proof from ``/v1/audit/proofs/{seq}``) and the digests of
  the signed submission, and is signed the same way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.applications.models import Attestation
from gateway.audit import Position
from gateway.catalog.models import Item
from gateway.security.evidence import SubmissionEvidence
from gateway.security.pii import PiiCipher

SignDocument = Callable[[dict[str, Any]], dict[str, Any]]
"""Signs a JSON document for offline checking: returns it with a detached ``jws`` member."""


@dataclass(frozen=True)
class Signed:
    """A partner submission's proof: the verified signature and the body it covers."""

    evidence: SubmissionEvidence
    body: bytes | None


def submission_digests(evidence: SubmissionEvidence) -> dict[str, Any]:
    """The digests of a signed submission that receipts and audit entries show."""
    return {
        "partner_id": evidence.partner_id,
        "keyid": evidence.keyid,
        "content_digest": evidence.content_digest,
        "body_sha256": evidence.body_sha256,
    }


def seal_body(cipher: PiiCipher, application_id: str, signed: Signed | None) -> str | None:
    """The signed body bytes, sealed like personal data (they are the application in clear)."""
    if signed is None or signed.body is None:
        return None
    encoded = base64.b64encode(signed.body).decode("ascii")
    return cipher.seal({"body_b64": encoded}, bound_to=f"submission:{application_id}")


def open_submission_body(cipher: PiiCipher, row: Mapping[str, Any]) -> bytes | None:
    """The exact body a partner signed for this application, or None (not a partner's)."""
    if not row.get("submission_body"):
        return None
    opened = cipher.open(row["submission_body"], bound_to=f"submission:{row['id']}")
    return base64.b64decode(opened["body_b64"])


def signed_attestation(
    signer: SignDocument | None,
    application_id: str,
    item: Item,
    attestation: Attestation | None,
    now: datetime,
) -> str | None:
    """The staff's "此件经与原件核对无误", signed by the gateway (JWS), as stored JSON.

    None without an attestation, or when the gateway cannot sign.
    """
    if attestation is None or signer is None:
        return None
    document = {
        "type": "tongban.attestation",
        "application_id": application_id,
        "item_code": item.code,
        "statement": attestation.statement,
        "staff_id": attestation.staff_id,
        "attested_at": attestation.attested_at.isoformat(),
        "attachments": list(attestation.attachments),
        "recorded_at": now.isoformat(),
    }
    return json.dumps(signer(document), ensure_ascii=False)


def seal_receipt(
    receipt: dict[str, Any],
    row: Mapping[str, Any],
    position: Position | None,
    signer: SignDocument | None,
) -> dict[str, Any]:
    """Add the audit position and the submission digests to `receipt`, then sign it."""
    if position is not None:
        # Where the receipt's entry sits in the audit log: prove it with /v1/audit/proofs.
        receipt["audit"] = {
            "seq": position.seq,
            "leaf_hash": position.leaf_hash.hex(),
            "proof_url": f"/v1/audit/proofs/{position.seq}",
        }
    if row.get("evidence"):
        receipt["submission"] = submission_digests(
            SubmissionEvidence.model_validate_json(row["evidence"])
        )
    return signer(receipt) if signer is not None else receipt
