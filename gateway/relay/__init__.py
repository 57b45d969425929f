"""Relay: the worker that delivers the outbox to regions and partners.

The outbox's write side (`enqueue`) is `gateway.outbox`, shared with the
applications; the relay reaches the applications only through the seam in
`gateway.relay.seam` (`DeliveryListener`, `ResultSink`).
"""
