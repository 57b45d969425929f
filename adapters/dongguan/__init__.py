"""Dongguan (441900): SOAP 1.1 approval service, results by polling (MODELLED)."""

from adapters.dongguan.adapter import DongguanAdapter, create
from adapters.dongguan.sandbox import create_sandbox

__all__ = ["DongguanAdapter", "create", "create_sandbox"]
