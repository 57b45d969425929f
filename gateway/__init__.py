"""Tongban Gateway (通办网关): the system between regions for 深莞通办 and 跨省通办."""

__version__ = "0.1.0"

__all__ = ["__version__"]
