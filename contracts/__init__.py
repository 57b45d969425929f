"""The contracts, installed as ``gateway.data.contracts`` (see gateway/data/__init__.py).

Every file under this directory, at any depth, ships in the wheel; no code lives here.
"""
