"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

``Frontier`` is the writer's state: the roots of the perfect subtrees that make
up the tree so far (one per set bit of the size), so appending is O(1) amortised
and the root O(log n), without keeping the tree. Proofs are computed from the
list of leaf hashes (the verifier has them; the writer keeps them on disk).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()  # MTH({}) (RFC 6962 2.1)
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The roots of the perfect subtrees of a tree of ``size`` leaves, largest first."""

    __slots__ = ("_heights", "_roots", "size")

    def __init__(self) -> None:
        self.size = 0
        self._roots: list[bytes] = []
        self._heights: list[int] = []

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash: merge equal-height subtrees, as a binary counter carries."""
        roots, heights = self._roots, self._heights
        h = leaf
        height = 0
        while heights and heights[-1] == height:
            h = hashlib.sha256(_NODE + roots.pop() + h).digest()
            heights.pop()
            height += 1
        roots.append(h)
        heights.append(height)
        self.size += 1

    def root(self) -> bytes:
        """MTH of the tree: fold the subtrees from the smallest, as RFC 6962's split does."""
        if not self._roots:
            return EMPTY_ROOT
        h = self._roots[-1]
        for left in reversed(self._roots[:-1]):
            h = node_hash(left, h)
        return h

    @classmethod
    def of(cls, leaves: Sequence[bytes]) -> Frontier:
        frontier = cls()
        for leaf in leaves:
            frontier.append(leaf)
        return frontier


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[0:n]) of these leaf hashes."""
    return Frontier.of(leaves).root()


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 0:
        return EMPTY_ROOT
    if hi - lo == 1:
        return leaves[lo]
    k = _split(hi - lo)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 6962 2.1.1): the audit path of one leaf."""
    n = len(leaves) if size is None else size
    if not 0 <= index < n <= len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    proof: list[bytes] = []
    lo, hi, m = 0, n, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            proof.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaves, lo, lo + k))
            lo, m = lo + k, m - k
    proof.reverse()  # the recursion appends from the leaf up
    return proof


def consistency_proof(leaves: Sequence[bytes], old: int, new: int | None = None) -> list[bytes]:
    """PROOF(old, D[0:new]) (RFC 6962 2.1.2): the tree of ``old`` leaves is a prefix."""
    n = len(leaves) if new is None else new
    if not 0 <= old <= n <= len(leaves):
        raise ValueError(f"no consistency proof from {old} to {n}")
    if old == 0 or old == n:
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, n, old, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaves, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(_mth(leaves, lo, hi))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2 (an empty old tree is consistent with any tree)."""
    if old < 0 or old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
