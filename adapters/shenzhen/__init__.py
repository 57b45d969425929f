"""Shenzhen (440300): JSON open platform, HMAC-SHA256 signed, results pushed (MODELLED)."""

from adapters.shenzhen.adapter import ShenzhenAdapter, create
from adapters.shenzhen.sandbox import create_sandbox

__all__ = ["ShenzhenAdapter", "create", "create_sandbox"]
