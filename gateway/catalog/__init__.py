"""The unified service catalogue: regions, items, materials."""

from gateway.catalog.models import (
    Channel,
    FormField,
    HandlingMode,
    Item,
    Material,
    Region,
    Source,
    TaskType,
    TongbanList,
    TrustLevel,
)

__all__ = [
    "Channel",
    "FormField",
    "HandlingMode",
    "Item",
    "Material",
    "Region",
    "Source",
    "TaskType",
    "TongbanList",
    "TrustLevel",
]
