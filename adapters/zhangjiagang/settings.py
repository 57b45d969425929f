"""Zhangjiagang's settings: the ``[adapters.zhangjiagang]`` table (validated at start-up).

Our own SM2 key is the gateway's (``tongban keys generate --alg sm2``), not a setting.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from adapters.base import DEMO_VALUE, AdapterSettings
from gateway.errors import InvalidKey
from gateway.security.sm2 import SM2PublicKey

DEMO_REGION_PUBLIC_KEY = (
    "04d504f50a79a683257fb052a12a6f68c51fc777a63af87104c77dde1606c3daa2"
    "05aff2319910e2a10943e18ef782ff357a9b5297d73004b604d7c5e63b36092e"
)
"""The public half of the sandbox's demo SM2 key."""


class ZhangjiagangSettings(AdapterSettings):
    """The Zhangjiagang 国密 API: where it is, our appId, and its SM2 public key.

    ``region_sm2_private_key`` and ``gateway_sm2_public_key`` are read only by
    ``tongban sandbox zhangjiagang`` (the stand-in's own keys).
    """

    url: str = Field("http://127.0.0.1:8103", description="Zhangjiagang 国密 API.")
    app_id: str = Field("tongban-demo", min_length=1, description="Our appId at Zhangjiagang.")
    sm2_public_key: str = Field(
        DEMO_REGION_PUBLIC_KEY,
        description="Zhangjiagang's SM2 public key (PEM, or the hex point 04||x||y): "
        f"verifies its answers and results, receives our session keys; {DEMO_VALUE}.",
    )
    region_sm2_private_key: SecretStr | None = Field(
        None,
        description="Sandbox only: the stand-in's SM2 private key (PEM); default: the demo key.",
    )
    gateway_sm2_public_key: str | None = Field(
        None,
        description="Sandbox only: the gateway's SM2 public key (PEM or hex); default: "
        "fetched from the gateway's JWK Set.",
    )

    @field_validator("sm2_public_key", "gateway_sm2_public_key")
    @classmethod
    def _loadable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                SM2PublicKey.load(value)
            except InvalidKey as exc:
                raise ValueError(f"not an SM2 public key: {exc}") from exc
        return value

    def region_public_key(self) -> SM2PublicKey:
        """Zhangjiagang's SM2 public key (checked when the settings were validated)."""
        return SM2PublicKey.load(self.sm2_public_key)
