"""Relay: the outbox of deliveries to regions (the worker that sends them joins here)."""

from gateway.relay.outbox import enqueue, new_envelope, open_envelope

__all__ = ["enqueue", "new_envelope", "open_envelope"]
