"""The catalogue's data model: regions, items (事项) and their materials.

Field names follow the national platform's exchange schema where it has the
concept (``task_name``, ``task_code``, ``catalog_code``, ``dept_code``,
``anticipate_day``, ``promise_day``, ``material_name``, ``is_need``...), so an
official export maps onto them column by column. Every model is frozen and refuses
unknown fields, so a typo in a catalogue file fails start-up instead of vanishing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HandlingMode(StrEnum):
    """How an item is handled across regions (国办发〔2020〕35号)."""

    FULL_ONLINE = "full_online"
    PROXY = "proxy"
    MULTI_REGION = "multi_region"

    @property
    def label_zh(self) -> str:
        return {"full_online": "全程网办", "proxy": "异地代收代办", "multi_region": "多地联办"}[
            self.value
        ]


class TaskType(StrEnum):
    """Item type; `code` is the two-digit number the exchange schema uses (not confirmed)."""

    LICENCE = "licence"
    PENALTY = "penalty"
    ENFORCEMENT = "enforcement"
    LEVY = "levy"
    PAYMENT = "payment"
    INSPECTION = "inspection"
    CONFIRMATION = "confirmation"
    AWARD = "award"
    ADJUDICATION = "adjudication"
    OTHER_POWER = "other_power"
    PUBLIC_SERVICE = "public_service"

    @property
    def code(self) -> str:
        return _TASK_TYPES[self.value][0]

    @property
    def label_zh(self) -> str:
        return _TASK_TYPES[self.value][1]

    @classmethod
    def from_code(cls, code: str) -> TaskType:
        """The type whose exchange-schema number is `code` ("01" → LICENCE)."""
        for name, (number, _) in _TASK_TYPES.items():
            if number == code.zfill(2):
                return cls(name)
        raise ValueError(f"unknown task_type code {code!r}")


_TASK_TYPES = {
    "licence": ("01", "行政许可"),
    "penalty": ("02", "行政处罚"),
    "enforcement": ("03", "行政强制"),
    "levy": ("04", "行政征收"),
    "payment": ("05", "行政给付"),
    "inspection": ("06", "行政检查"),
    "confirmation": ("07", "行政确认"),
    "award": ("08", "行政奖励"),
    "adjudication": ("09", "行政裁决"),
    "other_power": ("10", "其他行政权力"),
    "public_service": ("20", "公共服务"),
}


class Channel(StrEnum):
    """Where an applicant can apply."""

    WINDOW = "window"
    SELF_SERVICE = "self_service"
    ONLINE = "online"
    VIDEO = "video"
    MAIL = "mail"


class TongbanList(StrEnum):
    """A cross-region list an item is on (深莞通办, 跨省通办)."""

    SHENGUAN = "shenguan"
    KSTB = "kstb"

    @property
    def label_zh(self) -> str:
        return {"shenguan": "深莞通办", "kstb": "跨省通办"}[self.value]


class TrustLevel(StrEnum):
    """Material trust level (国办函〔2016〕108号).

    A: issued by the implementing body; B: checked by staff against the original;
    C: uploaded by the applicant, original to be checked; D: applicant's own statement.
    """

    A = "A"
    B = "B"
    C = "C"
    D = "D"


ServerType = Literal["person", "enterprise"]
"""服务对象: who may apply — a natural person or a legal person."""

TimeUnit = Literal["working_day", "natural_day"]


class Material(_Frozen):
    """One material an item asks for (申请材料)."""

    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$", description="Stable id within the item.")
    material_name: str = Field(min_length=1, description="材料名称")
    is_need: bool = Field(True, description="材料必要性: required for acceptance.")
    deferrable: bool = Field(
        False, description="容缺: may be missing at intake and supplied later (补正)."
    )
    material_format: Literal["paper", "electronic", "paper_or_electronic"] = Field(
        "paper_or_electronic", description="材料形式"
    )
    accepted_media_types: tuple[str, ...] = Field(
        ("application/pdf", "image/jpeg", "image/png"),
        description="Media types accepted for an electronic copy.",
    )
    trust_level: TrustLevel = TrustLevel.C
    source_type: str | None = Field(None, description="来源渠道, e.g. 申请人自备, 政府部门核发")
    accept_stand: str | None = Field(None, description="受理标准")
    page_num: int | None = Field(None, ge=0, description="纸质材料份数")


class FormField(_Frozen):
    """An item-specific field on the application form."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    label_zh: str
    required: bool = False
    kind: Literal["text", "number", "date", "choice"] = "text"
    choices: tuple[str, ...] = ()


class Source(_Frozen):
    """Where an entry comes from. Nothing ``composed`` may claim to be official."""

    kind: Literal["published_guide", "press", "composed", "import"] = Field(
        description=(
            "published_guide: an official 办事指南; press: named in a public report; "
            "composed: written for the sample catalogue, not official; import: an "
            "official export read by `tongban catalog import`."
        )
    )
    reference: str | None = Field(None, description="URL or citation of the source.")
    note: str | None = None


class Item(_Frozen):
    """One catalogue entry (事项), owned by its competent region."""

    code: str = Field(
        min_length=1,
        max_length=80,
        description="The gateway's key for the item: opaque, unique across regions.",
    )
    task_name: str = Field(min_length=1, description="事项名称")
    competent_region: str = Field(
        description="业务属地: the region that decides (regions.toml key)."
    )
    catalog_code: str | None = Field(None, description="基本编码 (12 characters nationally)")
    task_code: str | None = Field(None, description="实施编码")
    local_task_code: str | None = Field(None, description="地方实施编码")
    task_type: TaskType
    dept_name: str = Field(min_length=1, description="实施主体")
    dept_code: str | None = Field(None, description="实施主体编码: 18-character credit code")
    server_type: tuple[ServerType, ...] = Field(("person",), min_length=1, description="服务对象")
    handling_modes: tuple[HandlingMode, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] = Field(min_length=1)
    materials: tuple[Material, ...] = ()
    form_fields: tuple[FormField, ...] = ()
    anticipate_day: int | None = Field(None, ge=0, description="法定办结时限")
    anticipate_type: TimeUnit = "working_day"
    promise_day: int | None = Field(None, ge=0, description="承诺办结时限")
    promise_type: TimeUnit = "working_day"
    is_fee: bool = Field(False, description="是否收费")
    fee_basis: str | None = Field(None, description="收费依据 / amount")
    high_frequency: bool = Field(False, description="高频事项")
    counterparts: tuple[str, ...] = Field(
        (), description="同事同标: codes of the same item in other regions."
    )
    tongban_lists: tuple[TongbanList, ...] = Field(
        (), description="The cross-region lists the item is on (深莞通办, 跨省通办)."
    )
    source: Source

    def material(self, material_id: str) -> Material | None:
        """The material with `material_id`, or None."""
        return next((m for m in self.materials if m.id == material_id), None)


class Region(_Frozen):
    """A party with its own systems (regions.toml)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$", description="shenzhen, dongguan...")
    name_zh: str
    division_code: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 division code")
    adapter: str = Field(description="Name of the adapter entry point that speaks to it.")
    timezone: str = "Asia/Shanghai"
    calendar: str = Field(description="Working-day calendar reference, e.g. cn-mainland.")
