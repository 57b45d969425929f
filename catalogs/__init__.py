"""The sample catalogue, installed as ``gateway.data.catalogs`` (see gateway/data/__init__.py).

Every file under this directory, at any depth, ships in the wheel; no code lives here.
"""
