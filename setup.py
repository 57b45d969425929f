"""Only the package list, which pyproject.toml cannot express (the rest is there).

``[tool.setuptools.packages.find]`` finds gateway* and adapters*, but cannot add the
two data packages whose directories sit outside ``gateway/`` (``catalogs/`` and
``contracts/``, mapped by ``package-dir``); an explicit list in pyproject.toml would
have to name every subpackage and silently drop a new one.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["gateway*", "adapters*"]),
        "gateway.data.catalogs",
        "gateway.data.contracts",
    ]
)
