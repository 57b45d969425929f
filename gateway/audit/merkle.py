"""RFC 9162 Merkle tree hashing, proofs and their verification.

Hashing is RFC 6962/9162's: a leaf is ``SHA-256(0x00 || entry)``, an inner node
``SHA-256(0x01 || left || right)``, and the tree over ``n`` leaves splits at the
largest power of two below ``n``. Proof *generation* works over any source of
subtree hashes (a callable), so the same code serves the in-memory tree of a
test and the tiled index over the database. Proof *verification* follows the
RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms step by step.

A `CompactRange` is the stack of perfect subtrees covering leaves ``[0, size)``:
enough to append leaves and compute the root in O(log n) memory, which is how
verification streams millions of entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "SubtreeHash",
    "consistency_proof",
    "decompose",
    "fold",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1)."""

SubtreeHash = Callable[[int, int], bytes]
"""``subtree(begin, end)``: the Merkle tree hash of leaves ``[begin, end)``."""


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below `n` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(begin: int, end: int) -> list[tuple[int, int]]:
    """The aligned perfect subtrees covering ``[begin, end)``, left to right.

    Each is ``(start, height)`` with ``start`` a multiple of ``2**height``. For
    ``begin == 0`` (or any ``begin`` aligned above ``end - begin``) these are the
    subtrees whose right-to-left fold is the RFC 9162 tree hash of the range.
    """
    nodes = []
    i = begin
    while i < end:
        height = (end - i).bit_length() - 1
        if i:
            height = min(height, (i & -i).bit_length() - 1)
        nodes.append((i, height))
        i += 1 << height
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect subtree hashes (largest first) right to left into one root."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


class CompactRange:
    """The perfect subtrees covering ``[0, size)``: append leaves, read the root.

    Each appended node must be aligned (its start, the current size, a multiple
    of its width); siblings merge as they meet, so the stack always holds one
    subtree per set bit of `size`, largest first.
    """

    __slots__ = ("_hashes", "_heights", "size")

    def __init__(self) -> None:
        self.size = 0
        self._heights: list[int] = []
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild the range over ``[0, size)`` from its subtree hashes (largest first).

        Raises `ValueError` if the count does not match `size`.
        """
        nodes = decompose(0, size)
        if len(nodes) != len(hashes):
            raise ValueError(f"a range of size {size} has {len(nodes)} subtrees, not {len(hashes)}")
        compact = cls()
        for (_, height), digest in zip(nodes, hashes, strict=True):
            compact.push(height, digest)
        return compact

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.push(0, leaf)

    def push(self, height: int, digest: bytes) -> None:
        """Append the hash of a perfect subtree of ``2**height`` leaves."""
        if self.size & ((1 << height) - 1):
            raise ValueError(f"a subtree of height {height} cannot start at {self.size}")
        heights, hashes = self._heights, self._hashes
        self.size += 1 << height
        while heights and heights[-1] == height:
            heights.pop()
            digest = node_hash(hashes.pop(), digest)
            height += 1
        heights.append(height)
        hashes.append(digest)

    def hashes(self) -> list[bytes]:
        """The subtree hashes, largest (leftmost) first."""
        return list(self._hashes)

    def root(self) -> bytes:
        """The RFC 9162 tree hash of the leaves appended so far."""
        return fold(self._hashes)


def root_from_leaves(leaves: Iterable[bytes]) -> bytes:
    """The tree hash of `leaves` (leaf hashes, in order)."""
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    return compact.root()


def _check_size(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], not {value}")


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1).

    Raises `ValueError` unless ``0 <= index < size``.
    """
    _check_size("index", index, 0, size - 1)
    path = []
    low, high = 0, size
    while high - low > 1:
        k = _split(high - low)
        if index < low + k:
            path.append(subtree(low + k, high))
            high = low + k
        else:
            path.append(subtree(low, low + k))
            low += k
    path.reverse()  # PATH() lists siblings from the leaf up
    return path


def consistency_proof(first: int, second: int, subtree: SubtreeHash) -> list[bytes]:
    """The proof that tree `first` is a prefix of tree `second` (RFC 9162 §2.1.4.1).

    Raises `ValueError` unless ``0 < first <= second``.
    """
    _check_size("first", first, 1, second)
    siblings = []
    low, high = 0, second
    complete = True  # SUBPROOF's b: the subtree so far is the whole old tree
    while first != high:
        k = _split(high - low)
        if first <= low + k:
            siblings.append(subtree(low + k, high))
            high = low + k
        else:
            siblings.append(subtree(low, low + k))
            low += k
            complete = False
    head = [] if complete else [subtree(low, high)]
    return head + siblings[::-1]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """True if `path` proves `leaf` is at `index` in the tree of `size` with `root`.

    RFC 9162 §2.1.3.2, step by step.
    """
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """True if `path` proves tree `first` (`first_root`) is a prefix of tree `second`.

    RFC 9162 §2.1.4.2, step by step; equal sizes need an empty proof and equal roots.
    """
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
