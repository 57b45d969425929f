"""Merkle hashing and proofs, checked against a naive transcription of RFC 9162 §2.1.

The reference functions below are the RFC's recursive definitions written out
literally (hashlib, slices, no shared code), so they are an independent
computation: every proof the gateway makes must equal theirs, for every index
and every pair of sizes up to a bound, and verification must accept exactly
those proofs.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.merkle import (
    CompactRange,
    consistency_proof,
    decompose,
    inclusion_proof,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from gateway.audit.proofs import TileIndex


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(entries: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over the entries themselves."""
    n = len(entries)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return h(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]  # noqa: RUF005 - the RFC's ":" written literally
    return path(m - k, entries[k:]) + [mth(entries[:k])]  # noqa: RUF005 - the RFC's ":" written literally


def subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, entries[:k], b) + [mth(entries[k:])]  # noqa: RUF005 - the RFC's ":" written literally
    return subproof(m - k, entries[k:], False) + [mth(entries[:k])]  # noqa: RUF005 - the RFC's ":" written literally


def entries_of(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def subtree_of(entries: list[bytes]):  # type: ignore[no-untyped-def]
    return lambda begin, end: mth(entries[begin:end])


MAX = 40
ENTRIES = entries_of(MAX)


@pytest.mark.parametrize("size", range(MAX + 1))
def test_root_matches_reference(size: int) -> None:
    leaves = [leaf_hash(e) for e in ENTRIES[:size]]
    assert root_from_leaves(leaves) == mth(ENTRIES[:size])


def test_known_empty_root() -> None:
    # RFC 6962 test vector: the empty tree hash.
    assert root_from_leaves([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_inclusion_proofs_match_reference_and_verify(size: int) -> None:
    entries = ENTRIES[:size]
    root = mth(entries)
    for index in range(size):
        proof = inclusion_proof(index, size, subtree_of(entries))
        assert proof == path(index, entries)
        assert verify_inclusion(leaf_hash(entries[index]), index, size, proof, root)


@pytest.mark.parametrize("second", range(1, MAX + 1))
def test_consistency_proofs_match_reference_and_verify(second: int) -> None:
    entries = ENTRIES[:second]
    for first in range(1, second + 1):
        proof = consistency_proof(first, second, subtree_of(entries))
        assert proof == subproof(first, entries, True)
        assert verify_consistency(first, second, mth(entries[:first]), mth(entries), proof)


@settings(deadline=None)  # correctness, not speed: a busy machine must not fail it
@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_on_larger_trees(case: tuple[int, int]) -> None:
    size, index = case
    entries = entries_of(size)
    proof = inclusion_proof(index, size, subtree_of(entries))
    assert proof == path(index, entries)
    assert verify_inclusion(leaf_hash(entries[index]), index, size, proof, mth(entries))


@settings(deadline=None)  # correctness, not speed: a busy machine must not fail it
@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_on_larger_trees(case: tuple[int, int]) -> None:
    first, second = case
    entries = entries_of(second)
    proof = consistency_proof(first, second, subtree_of(entries))
    assert proof == subproof(first, entries, True)
    assert verify_consistency(first, second, mth(entries[:first]), mth(entries), proof)


def test_inclusion_verification_rejects_every_kind_of_wrong_input() -> None:
    entries = ENTRIES[:13]
    root, proof = mth(entries), path(5, entries)
    leaf = leaf_hash(entries[5])
    assert verify_inclusion(leaf, 5, 13, proof, root)
    assert not verify_inclusion(leaf_hash(entries[6]), 5, 13, proof, root)  # other leaf
    assert not verify_inclusion(leaf, 6, 13, proof, root)  # other index
    assert not verify_inclusion(leaf, 5, 8, proof, root)  # a size with another path shape
    assert not verify_inclusion(leaf, 5, 17, proof, root)
    assert not verify_inclusion(leaf, 5, 13, proof[:-1], root)  # short path
    assert not verify_inclusion(leaf, 5, 13, [*proof, proof[0]], root)  # long path
    assert not verify_inclusion(leaf, 5, 13, [h(b"x"), *proof[1:]], root)  # bad sibling
    assert not verify_inclusion(leaf, 13, 13, proof, root)  # index out of range


def test_consistency_verification_rejects_every_kind_of_wrong_input() -> None:
    entries = ENTRIES[:21]
    old, new = mth(entries[:6]), mth(entries)
    proof = subproof(6, entries, True)
    assert verify_consistency(6, 21, old, new, proof)
    assert not verify_consistency(6, 21, mth(entries[:5]), new, proof)  # other old root
    assert not verify_consistency(6, 21, old, mth(entries[:20]), proof)  # other new root
    assert not verify_consistency(7, 21, old, new, proof)  # other size
    assert not verify_consistency(6, 21, old, new, proof[:-1])
    assert not verify_consistency(6, 21, old, new, [])
    assert not verify_consistency(6, 6, old, old, proof)  # equal sizes need no proof
    assert verify_consistency(6, 6, old, old, [])
    assert not verify_consistency(0, 21, old, new, proof)


@given(st.integers(0, 600), st.integers(0, 600))
def test_compact_range_from_any_split_gives_the_root(split: int, extra: int) -> None:
    """Left subtrees + leaves + right subtrees fold to the root (what exports rely on)."""
    size = split + extra
    entries = entries_of(size)
    left = [mth(entries[s : s + (1 << k)]) for s, k in decompose(0, split)]
    compact = CompactRange.from_hashes(split, left)
    for start, height in decompose(split, size):
        compact.push(height, mth(entries[start : start + (1 << height)]))
    assert compact.size == size
    assert compact.root() == mth(entries)


def test_compact_range_refuses_a_misaligned_subtree() -> None:
    compact = CompactRange()
    compact.append(leaf_hash(b"a"))
    with pytest.raises(ValueError, match="cannot start"):
        compact.push(1, h(b"x"))


@pytest.mark.parametrize("tile_height", [0, 1, 3])
def test_tile_index_holds_every_complete_subtree(tile_height: int) -> None:
    entries = entries_of(100)
    index = TileIndex(tile_height)
    index.extend(leaf_hash(e) for e in entries[:37])
    index.extend(leaf_hash(e) for e in entries[37:])
    for height in range(tile_height, 7):
        for start in range(0, 100 - (1 << height) + 1, 1 << height):
            assert index.perfect(start, height) == mth(entries[start : start + (1 << height)])
    assert index.perfect(0, tile_height - 1) is None if tile_height else True
