"""Typed keys of the application's state that several packages read.

They live apart from `gateway.app` so route modules can use them without
importing the factory (which imports the route modules).
"""

from __future__ import annotations

from aiohttp import web

from gateway.config import Settings
from gateway.store import Store

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
INSTALLATION_ID = web.AppKey("installation_id", str)

__all__ = ["INSTALLATION_ID", "SETTINGS", "STORE"]
