"""RFC 6962 Merkle tree hashes, inclusion (audit) proofs and consistency proofs.

The change log's entries are the leaves of this tree, exactly as a Certificate Transparency log's
are (RFC 6962 §2.1, restated unchanged in RFC 9162 §2.1), so any CT tooling can check our roots:

    leaf   = SHA-256(0x00 || entry bytes)
    node   = SHA-256(0x01 || left || right)
    MTH({}) = SHA-256(""),  MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))  with k the largest power
              of two smaller than n (the split that makes non-power-of-two sizes work)

Hand-written, on purpose: the one maintained Python package that does this offline (pymerkle) is
GPL-3.0 — it cannot ship inside this Apache-2.0 package — and calls itself beta and unaudited.
The algorithms are short and the tests check them against the published CT test vectors.
Generation follows the RFC's recursive definitions (PATH, PROOF/SUBPROOF); verification follows
RFC 9162 §2.1.3.2 and §2.1.4.2, which need nothing but the proof, the sizes and the roots.

Every function takes leaf *hashes* (32 bytes each), never raw entries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end == start:
        return EMPTY_ROOT
    if end - start == 1:
        return leaves[start]
    k = _split(end - start)
    return node_hash(_mth(leaves, start, start + k), _mth(leaves, start + k, end))


def root(leaves: Sequence[bytes], size: int | None = None) -> bytes:
    """MTH of the first `size` leaves (all of them by default)."""
    size = len(leaves) if size is None else size
    _check_size(size, len(leaves))
    return _mth(leaves, 0, size)


def prefix_roots(leaves: Iterable[bytes]) -> Iterator[bytes]:
    """The root of every prefix, sizes 1, 2, 3, …: O(log n) each, for checking many checkpoints at once.

    Keeps the perfect subtrees that make up the tree so far (at most one per height, tallest
    first); the root folds them from the right, which is the RFC's split applied recursively.
    """
    stack: list[tuple[int, bytes]] = []  # (height, hash)
    for leaf in leaves:
        height, value = 0, leaf
        while stack and stack[-1][0] == height:
            value = node_hash(stack.pop()[1], value)
            height += 1
        stack.append((height, value))
        folded = stack[-1][1]
        for _, left in reversed(stack[:-1]):
            folded = node_hash(left, folded)
        yield folded


def inclusion_path(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[size]) (RFC 6962 §2.1.1): the audit path from leaf `index` to the root of `size` leaves."""
    size = len(leaves) if size is None else size
    _check_size(size, len(leaves))
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return path(m, start, start + k) + [_mth(leaves, start + k, end)]
        return path(m - k, start + k, end) + [_mth(leaves, start, start + k)]

    return path(index, 0, size)


def consistency_proof(leaves: Sequence[bytes], first: int, second: int | None = None) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 6962 §2.1.2): shows the tree of `first` leaves is a prefix of `second`'s."""
    second = len(leaves) if second is None else second
    _check_size(second, len(leaves))
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first == 0 or first == second:
        return []

    def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [_mth(leaves, start, end)]
        k = _split(n)
        if m <= k:
            return subproof(m, start, start + k, whole) + [_mth(leaves, start + k, end)]
        return subproof(m - k, start + k, end, False) + [_mth(leaves, start, start + k)]

    return subproof(first, 0, second, True)


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` proves `leaf` (at `index` of `size`) under, or None if the path cannot be one.

    RFC 9162 §2.1.3.2.
    """
    if not 0 <= index < size or len(leaf) != 32:
        return None
    fn, sn, value = index, size - 1, leaf
    for sibling in path:
        if sn == 0 or len(sibling) != 32:
            return None
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            value = node_hash(value, sibling)
        fn >>= 1
        sn >>= 1
    return value if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], expected_root: bytes) -> bool:
    computed = root_from_inclusion(index, size, leaf, path)
    return computed is not None and hmac.compare_digest(computed, expected_root)


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree of size `first` is a prefix of the tree of size `second` (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if first == 0:  # every tree extends the empty one
        return not proof and hmac.compare_digest(first_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
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
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)


def _check_size(size: int, available: int) -> None:
    if not 0 <= size <= available:
        raise ValueError(f"a tree of {size} leaves, but {available} leaves were given")
