"""Peer: another Tongban gateway over our own partner REST API (federation)."""

from adapters.peer.adapter import PeerAdapter, create
from adapters.peer.sandbox import create_sandbox

__all__ = ["PeerAdapter", "create", "create_sandbox"]
