"""Shenzhen's settings: the ``[adapters.shenzhen]`` table (validated at start-up)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.base import DEMO_VALUE, AdapterSettings


class ShenzhenSettings(AdapterSettings):
    """The Shenzhen open platform: where it is and our appId and HMAC key there."""

    url: str = Field("http://127.0.0.1:8101", description="Shenzhen open platform.")
    app_id: str = Field("tongban-demo", min_length=1, description="Our appId at the platform.")
    app_secret: SecretStr = Field(
        SecretStr("demo-shenzhen-secret"), description=f"HMAC-SHA256 key; {DEMO_VALUE}."
    )
