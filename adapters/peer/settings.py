"""The peer's settings: the ``[adapters.peer]`` table (validated at start-up)."""

from __future__ import annotations

from pydantic import Field

from adapters.base import AdapterSettings


class PeerSettings(AdapterSettings):
    """Another Tongban gateway, reached over its partner REST API."""

    url: str = Field("http://127.0.0.1:8104", description="The peer Tongban gateway.")
