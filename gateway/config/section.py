"""The base of every settings section: frozen, and an unknown key is an error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A table of the settings file (``[server]``, ``[relay.default]``...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
