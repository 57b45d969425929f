"""Security: gateway keys, RFC 9421 message signatures, partner authentication, receipts.

What the rest of the gateway uses:

- partner routes: `partner_required`, `partner_of`, `require_item_allowed`,
  `evidence_of` (the `SubmissionEvidence` to keep with each application);
- signing our output: `GATEWAY_KEYS` (`GatewayKeys.sign_receipt`,
  `GatewayKeys.request_signer`) and `RequestSigner` (implements `adapters.base.SignRequest`);
- offline checks: `verify_receipt`, `verify_evidence`;
- personal data at rest: `PiiCipher` (AES-GCM with key ids) and its blind index.
"""

from gateway.security.auth import (
    PARTNER,
    AuthenticatedPartner,
    PartnerAuthenticator,
    evidence_of,
    partner_of,
    partner_required,
    require_item_allowed,
)
from gateway.security.digest import content_digest, verify_content_digest
from gateway.security.evidence import SubmissionEvidence, verify_evidence
from gateway.security.jwks import GatewayKeys
from gateway.security.keys import GatewayKey, KeyRing, KeyStore, thumbprint
from gateway.security.outbound import RequestSigner
from gateway.security.partners import Partner, PartnerKey, PartnerRegistry
from gateway.security.pii import PiiCipher, PiiKeys, load_keys
from gateway.security.receipts import sign_receipt, verify_receipt
from gateway.security.wiring import setup_security

__all__ = [
    "PARTNER",
    "AuthenticatedPartner",
    "GatewayKey",
    "GatewayKeys",
    "KeyRing",
    "KeyStore",
    "Partner",
    "PartnerAuthenticator",
    "PartnerKey",
    "PartnerRegistry",
    "PiiCipher",
    "PiiKeys",
    "RequestSigner",
    "SubmissionEvidence",
    "content_digest",
    "evidence_of",
    "load_keys",
    "partner_of",
    "partner_required",
    "require_item_allowed",
    "setup_security",
    "sign_receipt",
    "thumbprint",
    "verify_content_digest",
    "verify_evidence",
    "verify_receipt",
]
