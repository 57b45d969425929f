"""The types of conftest.py's factory fixtures, for tests to annotate their arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.config import Settings
from gateway.store import Store

StoreFactory = Callable[..., Awaitable[Store]]
"""`store_factory`: opens an unmigrated store on this test's database (sqlite or postgres)."""

CatalogueSettings = Callable[..., Settings]
"""`catalogue_settings`: settings on the test catalogue, keyword sections merged over it."""
