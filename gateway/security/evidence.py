"""Non-repudiation: what is kept with each partner submission, and how to re-check it.

`SubmissionEvidence` is everything needed to show later, to a third party, that the
partner holding key `keyid` sent exactly this body to exactly this URL: the
signature, its ``Signature-Input`` member, the signature base it covers (which
contains the ``Content-Digest`` line) and the body's SHA-256. `verify_evidence`
re-checks it with nothing but the partner's public key and the stored body.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import InvalidSignature as SM2InvalidSignature
from gateway.errors import SignatureError
from gateway.security.digest import verify_content_digest
from gateway.security.sm2 import SM2PublicKey


class SubmissionEvidence(BaseModel):
    """The proof kept with one application submitted by a partner (JSON-serialisable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    keyid: str
    algorithm: str = "ed25519"
    label: str = Field(description="The signature's label in Signature-Input / Signature.")
    signature_input: str = Field(description="The Signature-Input member, label=(...);...")
    signature: str = Field(description="The signature, standard base64.")
    signature_base: str = Field(description="The exact RFC 9421 signature base that was signed.")
    content_digest: str | None = Field(description="The Content-Digest header as received.")
    body_sha256: str = Field(description="SHA-256 of the body as received, hex.")
    created: int = Field(description="The signature's created parameter, Unix seconds.")
    nonce: str | None = None
    method: str
    target_uri: str
    verified_at: datetime


def verify_evidence(
    evidence: SubmissionEvidence, public_key: Ed25519PublicKey | SM2PublicKey, body: bytes
) -> None:
    """Re-verify stored evidence offline. Raises `SignatureError` if anything disagrees.

    Checks the signature over the stored base, that the body matches its SHA-256,
    and that the base's ``content-digest`` line is the one received and matches it.
    """
    try:
        signature = base64.b64decode(evidence.signature)
        base = evidence.signature_base.encode("ascii")
        if isinstance(public_key, SM2PublicKey):  # alg sm2-sm3: r||s, default ID
            public_key.verify(signature, base, encoding="raw")
        else:
            public_key.verify(signature, base)
    except (InvalidSignature, SM2InvalidSignature, ValueError) as exc:
        raise SignatureError("signature_invalid", "the stored signature does not verify") from exc
    if hashlib.sha256(body).hexdigest() != evidence.body_sha256:
        raise SignatureError("digest_mismatch", "the body is not the one received")
    if evidence.content_digest is not None:
        line = f'"content-digest": {evidence.content_digest}'
        if line not in evidence.signature_base.split("\n"):
            raise SignatureError("digest_mismatch", "the signature does not cover this digest")
        verify_content_digest(evidence.content_digest, body)
