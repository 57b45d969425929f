"""Zhangjiagang (320582): 国密 JSON, SM2-signed, SM4 in SM2 envelopes, pushed (MODELLED)."""

from adapters.zhangjiagang.adapter import ZhangjiagangAdapter, create
from adapters.zhangjiagang.sandbox import create_sandbox

__all__ = ["ZhangjiagangAdapter", "create", "create_sandbox"]
