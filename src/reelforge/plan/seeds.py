"""Seed derivation: every random number in a render comes from the master seed.

The hash is documented so anyone can recompute a seed by hand (docs/determinism.md):

    shot seed  = first 8 bytes of SHA-256("reelforge/seed/v1|<master seed>|<shot path>"),
                 big-endian, shifted right by one bit (a non-negative signed 64-bit int)
    frame seed = the same over "reelforge/frame-seed/v1|<shot seed>|<frame index>"

Seeds depend on ids, not positions: reordering shots or inserting a new one does
not re-roll any other shot.
"""

from __future__ import annotations

import hashlib


def _seed_from(text: str) -> int:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def shot_seed(master_seed: int, shot_path: str) -> int:
    """Seed of one shot, e.g. shot_seed(7, "s01e01/sc01/sh03")."""
    return _seed_from(f"reelforge/seed/v1|{master_seed}|{shot_path}")


def frame_seed(seed_of_shot: int, frame_index: int) -> int:
    """Seed of one frame of a shot: per-frame backends re-render any frame range alone."""
    return _seed_from(f"reelforge/frame-seed/v1|{seed_of_shot}|{frame_index}")
