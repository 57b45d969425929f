"""Where the data shipped inside the package is: the one place that asks ``importlib.resources``.

The sample catalogue (``catalogs/`` in the repository) and the contracts
(``contracts/``) install as the data packages ``gateway.data.catalogs`` and
``gateway.data.contracts`` (see gateway/data/__init__.py), so these answers are the
same in a checkout's editable install and in an installed wheel, whatever the
working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gateway.errors import TongbanError

CATALOGS_PACKAGE = "gateway.data.catalogs"
CONTRACTS_PACKAGE = "gateway.data.contracts"


def packaged_catalog_dir() -> Path:
    """The sample catalogue shipped with the gateway (regions.toml, <region>.yaml...)."""
    return _directory(CATALOGS_PACKAGE)


def packaged_calendar_dir() -> Path:
    """The holiday calendar shipped with the gateway (CN-YYYY.toml...), inside the catalogue."""
    return packaged_catalog_dir() / "calendar"


def packaged_contracts_dir() -> Path:
    """The contracts shipped with the gateway: openapi.yaml, schemas/, examples/, regions/."""
    return _directory(CONTRACTS_PACKAGE)


def _directory(package: str) -> Path:
    # A directory on disk, because operators' own catalogues are directories too and
    # every reader takes a Path. pip always unpacks wheels; only a zip import (not
    # supported) would give something else.
    found = resources.files(package)
    if not isinstance(found, Path):
        raise TongbanError(f"{package} is not a directory on disk ({found}); install with pip")
    return found
