"""Settings of trust: gateway keys, partners and their keys, personal-data encryption,
and the audit log's signed checkpoints."""

from __future__ import annotations

from pathlib import Path

from pydantic import AwareDatetime, Field, SecretStr, model_validator

from gateway.config.section import Section


class PartnerKeySettings(Section):
    """One public key a partner signs with, valid from `not_before` until `not_after`."""

    keyid: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The keyid the partner puts in Signature-Input; default: the key's "
        "RFC 7638 JWK thumbprint.",
    )
    public_key: str = Field(
        description="Ed25519 public key: PEM (BEGIN PUBLIC KEY) or the JWK 'x' (base64url); "
        "or SM2 (alg sm2-sm3): PEM or the hex point 04||x||y."
    )
    not_before: AwareDatetime | None = Field(None, description="Refused before this instant.")
    not_after: AwareDatetime | None = Field(None, description="Refused from this instant on.")


class PartnerSettings(Section):
    """A partner region's system allowed to call the partner REST API."""

    name: str = Field("", description="Human name, for logs and the console.")
    keys: tuple[PartnerKeySettings, ...] = Field(
        min_length=1, description="Its public keys; several overlap during a rotation."
    )
    items: tuple[str, ...] = Field(
        (),
        description="Items it may submit: exact codes, 'PREFIX*', '@group' "
        "(security.item_groups) or '*' for all.",
    )
    callback_url: str | None = Field(
        None, pattern=r"^https?://", description="Where its status webhooks are sent."
    )
    rate_limit_per_minute: int = Field(600, gt=0, description="Sustained requests per minute.")
    rate_limit_burst: int = Field(60, gt=0, description="Requests allowed at once above that.")


class SecuritySettings(Section):
    """Gateway signing keys and partner authentication (RFC 9421 / RFC 9530)."""

    keys_dir: Path | None = Field(
        None, description="Gateway key ring and encrypted private keys; default <data_dir>/keys."
    )
    key_passphrase: SecretStr | None = Field(
        None,
        description="Passphrase encrypting every key at rest (gateway keys, audit checkpoint "
        "key, PII key ring); set it through TONGBAN_SECURITY__KEY_PASSPHRASE, not in a file.",
    )
    key_grace_days: float = Field(
        30.0, ge=0, description="Days a rotated-out gateway key stays published in the JWKS."
    )
    max_clock_skew: int = Field(
        300, gt=0, le=3600, description="Seconds a signature's 'created' may differ from now."
    )
    require_nonce: bool = Field(
        True,
        description=(
            "Refuse partner requests whose signature has no single-use nonce (replay "
            "protection); false only for partners whose signing library cannot add one."
        ),
    )
    public_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+$",
        description="Scheme and authority partners call (https://gw.example.gov.cn), used "
        "for @target-uri behind a TLS proxy; default: what the request says.",
    )
    item_groups: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Named item lists partners' 'items' can use as '@name'."
    )
    partners: dict[str, PartnerSettings] = Field(
        default_factory=dict, description="Partner id -> partner ([security.partners.ID])."
    )

    @model_validator(mode="after")
    def _groups_exist(self) -> SecuritySettings:
        for partner_id, partner in self.partners.items():
            for rule in partner.items:
                if rule.startswith("@") and rule[1:] not in self.item_groups:
                    raise ValueError(f"partner {partner_id!r}: unknown item group {rule!r}")
        return self


class PiiSettings(Section):
    """Encryption of personal data at rest (AES-256-GCM) and its blind index (HMAC)."""

    keys: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Data keys by key id, base64 of 32 bytes. Empty: a key ring is generated once "
            "under <data_dir>/keys/pii.json (demo only)."
        ),
    )
    active_key: str | None = Field(
        None, description="Key id new data is sealed with (default: the last id in order)."
    )
    index_key: str | None = Field(
        None, description="Blind-index HMAC key, base64; required when keys is set."
    )


class AuditSettings(Section):
    """The audit log's signed checkpoints."""

    checkpoint_every_entries: int = Field(
        1000, ge=1, description="Sign a checkpoint once this many entries were appended..."
    )
    checkpoint_interval_seconds: float = Field(
        60.0, gt=0, description="...or this many seconds passed, whichever comes first."
    )
    signing_key_file: Path | None = Field(
        None,
        description=(
            "Ed25519 private key that signs checkpoints (PKCS#8 PEM encrypted under "
            "security.key_passphrase, public half beside it as *.pub.pem); created if "
            "missing. Unset means <data_dir>/keys/audit-checkpoint.pem."
        ),
    )
