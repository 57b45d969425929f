"""Dongguan's settings: the ``[adapters.dongguan]`` table (validated at start-up)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.base import DEMO_VALUE, AdapterSettings


class DongguanSettings(AdapterSettings):
    """The Dongguan SOAP service: where it is and our WS-Security UsernameToken."""

    url: str = Field("http://127.0.0.1:8102", description="Dongguan SOAP service.")
    username: str = Field("tongban", min_length=1, description="UsernameToken user.")
    password: SecretStr = Field(
        SecretStr("demo-dongguan-password"), description=f"UsernameToken password; {DEMO_VALUE}."
    )
