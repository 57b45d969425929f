"""Data files shipped inside the package, each tree an importable subpackage so
``importlib.resources`` finds it the same in a checkout and in an installed wheel.

``gateway.data.catalogs`` is the repository's ``catalogs/`` and
``gateway.data.contracts`` its ``contracts/``, mapped by ``package-dir`` in
pyproject.toml (see setup.py); `gateway.resources` is the one place that looks them up.
"""
