"""The application (办件) as submitted: applicant, agent, delivery, materials, form.

These are the request models of ``POST /v1/applications``: frozen, unknown fields
refused, identifiers checked and normalised on the way in (GB 11643 resident IDs,
GB 32100 credit codes, permit and passport formats, mainland mobile numbers).
What depends on the item (which materials, which form fields) is checked against
the catalogue in `gateway.applications.checks`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.applications import identifiers
from gateway.catalog.models import Channel, HandlingMode, TrustLevel

DIGEST_PATTERN = r"^[0-9a-f]{64}$"
ATTESTATION_STATEMENT = "此件经与原件核对无误"

PersonIdType = Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit"]
Digest = Annotated[str, Field(pattern=DIGEST_PATTERN, description="SHA-256, lower-case hex")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Person(_Frozen):
    """A natural person: name and an identity document."""

    name: str = Field(min_length=1, max_length=60)
    id_type: PersonIdType = "resident_id"
    id_number: str = Field(min_length=1, max_length=40)

    @field_validator("id_number")
    @classmethod
    def _check_id_number(cls, value: str, info: ValidationInfo) -> str:
        id_type = info.data.get("id_type")
        if id_type is None:  # id_type itself is invalid and reported on its own
            return value
        return identifiers.PERSON_ID_CHECKS[id_type](value)


class PersonApplicant(Person):
    """An applicant who is a natural person."""

    kind: Literal["person"] = "person"


class EnterpriseApplicant(_Frozen):
    """An applicant that is a legal person: name, credit code, legal representative."""

    kind: Literal["enterprise"] = "enterprise"
    name: str = Field(min_length=1, max_length=120)
    uscc: str = Field(min_length=1, max_length=18, description="统一社会信用代码")
    legal_representative: Person

    @field_validator("uscc")
    @classmethod
    def _check_uscc(cls, value: str) -> str:
        return identifiers.check_uscc(value)


Applicant = Annotated[PersonApplicant | EnterpriseApplicant, Field(discriminator="kind")]


class DeliveryChoice(_Frozen):
    """How the result reaches the applicant: window pickup, or mail to an address (双邮寄)."""

    method: Literal["window_pickup", "mail"]
    address: str | None = Field(None, max_length=200)
    recipient: str | None = Field(None, max_length=60)

    @model_validator(mode="after")
    def _mail_needs_address(self) -> DeliveryChoice:
        if self.method == "mail" and not self.address:
            raise ValueError("选择邮寄送达时必须填写收件地址")
        return self


class MaterialInput(_Frozen):
    """One of the item's materials: provided with attachments, or deferred (容缺)."""

    material_id: str = Field(min_length=1, max_length=40)
    provided: bool = True
    trust_level: TrustLevel | None = Field(
        None, description="Defaults to the catalogue's level for this material."
    )
    attachments: tuple[Digest, ...] = Field((), max_length=50)


class Attestation(_Frozen):
    """The receiving staff's "此件经与原件核对无误" over the attachments they checked."""

    staff_id: str = Field(min_length=1, max_length=40)
    attested_at: datetime
    attachments: tuple[Digest, ...] = Field(min_length=1, max_length=200)
    statement: Literal["此件经与原件核对无误"] = "此件经与原件核对无误"


class ApplicationRequest(_Frozen):
    """The body of ``POST /v1/applications``."""

    item_code: str = Field(min_length=1, max_length=80)
    receiving_region: str = Field(min_length=1, max_length=40, description="收件地")
    channel: Channel
    handling_mode: HandlingMode
    applicant: Applicant
    agent: Person | None = Field(None, description="代办人")
    phone: str = Field(min_length=1, max_length=20, description="联系手机")
    delivery: DeliveryChoice
    materials: tuple[MaterialInput, ...] = Field((), max_length=100)
    form: dict[str, Any] = Field(default_factory=dict, description="Item-specific fields")
    remarks: str | None = Field(None, max_length=2000, description="Staff remarks")
    attestation: Attestation | None = None

    @field_validator("phone")
    @classmethod
    def _check_phone(cls, value: str) -> str:
        return identifiers.check_mobile(value)


class SupplementRequest(_Frozen):
    """The body of ``POST /v1/applications/{id}/supplements``."""

    materials: tuple[MaterialInput, ...] = Field(min_length=1, max_length=100)
    attestation: Attestation | None = None
    remarks: str | None = Field(None, max_length=2000)


class WithdrawalRequest(_Frozen):
    """The body of ``POST /v1/applications/{id}/withdrawal``."""

    reason: str = Field(min_length=1, max_length=500)


OFFLINE_INDICATORS = ("service_efficiency", "service_level", "service_attitude")
"""服务效率, 服务水平, 服务态度: rated once per visit (一次一评)."""
ONLINE_INDICATORS = ("efficiency", "guide_accuracy", "convenience", "operability")
"""办事效率, 办事指南精确度, 办事便捷度, 平台操作性: rated once per item (一事一评)."""


class RatingRequest(_Frozen):
    """好差评: level 5 非常满意 … 1 非常不满意, with the indicators of the setting."""

    setting: Literal["offline", "online"]
    level: int = Field(ge=1, le=5)
    indicators: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=dict)
    comment: str | None = Field(None, max_length=500)

    @field_validator("indicators")
    @classmethod
    def _indicators_of_the_setting(
        cls, value: dict[str, int], info: ValidationInfo
    ) -> dict[str, int]:
        setting = info.data.get("setting")
        if setting is None:  # the setting is invalid and reported on its own
            return value
        allowed = OFFLINE_INDICATORS if setting == "offline" else ONLINE_INDICATORS
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(
                f"{'线下' if setting == 'offline' else '线上'}评价的指标只能是："
                f"{'、'.join(allowed)}（不认识：{'、'.join(unknown)}）"
            )
        return value
