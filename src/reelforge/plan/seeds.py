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


def identity_seed(master_seed: int, character_id: str) -> int:
    """A character's default identity seed, from the production's seed and the character's id:

        identity seed = first 8 bytes of SHA-256("reelforge/identity-seed/v1|<master seed>|<character id>"),
                        big-endian, shifted right by one bit

    Never from the character's place in the cast or the bible, so recasting a shot or adding a
    character changes no one else. A spec's `identity_seed` replaces it.
    """
    return _seed_from(f"reelforge/identity-seed/v1|{master_seed}|{character_id}")


def figure_draws(seed_of_identity: int, count: int) -> tuple[float, ...]:
    """`count` numbers in [0, 1) that shape a character's previz mannequin (shoulders, head, build):

        draw i = (first 8 bytes of SHA-256("reelforge/figure/v1|<identity seed>|<i>"), big-endian) >> 11, / 2**53

    Fixed per identity seed, so a character looks the same in every shot.
    """
    draws = []
    for i in range(count):
        digest = hashlib.sha256(f"reelforge/figure/v1|{seed_of_identity}|{i}".encode("utf-8")).digest()
        draws.append((int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53))
    return tuple(draws)


def style_seed(seed_of_shot: int, step_index: int) -> int:
    """Seed of one step of a shot's style recipe (paper grain, glass cells, hatching wobble):

        style seed = first 8 bytes of SHA-256("reelforge/style-seed/v1|<shot seed>|<step index>"),
                     big-endian, shifted right by one bit

    One seed for every frame of the shot, so textures and cells stay put instead of boiling;
    other shots (and other steps of the recipe) get other textures.
    """
    return _seed_from(f"reelforge/style-seed/v1|{seed_of_shot}|{step_index}")


def handheld_draws(seed_of_shot: int, count: int) -> tuple[float, ...]:
    """`count` numbers in [0, 1) that shape a shot's handheld camera shake (frequencies, phases):

        draw i = (first 8 bytes of SHA-256("reelforge/handheld/v1|<shot seed>|<i>"), big-endian) >> 11, / 2**53

    Fixed per shot, independent of frames: the shake is a pure function of time, so any
    frame range renders alone. Previz documents the order the draws are used in.
    """
    draws = []
    for i in range(count):
        digest = hashlib.sha256(f"reelforge/handheld/v1|{seed_of_shot}|{i}".encode()).digest()
        draws.append((int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53))
    return tuple(draws)


def grain_seed(seed_of_shot: int, frame_index: int) -> int:
    """Seed of one frame's film grain (post/look.py):

        grain seed = first 8 bytes of SHA-256("reelforge/grain-seed/v1|<shot seed>|<frame index>"),
                     big-endian, shifted right by one bit

    A derivation of its own, so the grain never correlates with a backend's per-frame
    noise; new grain every frame, and any frame range re-renders with the grain it has
    in a full pass. The grain's bytes are numpy's PCG64 stream from this seed (`random_raw`,
    whose output numpy keeps stable across versions).
    """
    return _seed_from(f"reelforge/grain-seed/v1|{seed_of_shot}|{frame_index}")
