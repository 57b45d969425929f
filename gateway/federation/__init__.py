"""Federation: Tongban gateways as peers (DESIGN.md §7, contracts/regions/peer.md).

Each peer is both a destination (its regions' applications go to it through the
`peer` adapter) and a partner (it submits here and takes our status notices),
configured once under ``[federation.peers.NAME]``.
"""

from gateway.federation.keys import PeerKeys, keys_of_jwks

__all__ = ["PeerKeys", "keys_of_jwks"]
