"""Takes: the same shot rendered again with another seed, so a director can choose among variants.

Take 1 (or a shot that names no take) is the shot's own seed, so a spec without takes renders
exactly as before. Take k ≥ 2 draws a seed of its own, documented like every seed
(docs/determinism.md) so anyone can recompute it:

    take seed = first 8 bytes of SHA-256("reelforge/take-seed/v1|<master seed>|<shot path>|<k>"),
                big-endian, shifted right by one bit

Everything else a render draws (frame, style, grain and handheld seeds) derives from the shot's
seed, so it follows the take. This module is planning code, outside the render code's hash
(plan/code_hash.py): adding takes changed no job key of a shot without one.
"""

from __future__ import annotations

from reelforge.plan.seeds import _seed_from, shot_seed
from reelforge.spec.model import MAX_TAKES as MAX_TAKES  # takes are numbered 1 to it; the spec bounds a shot's take


def take_seed(master_seed: int, shot_path: str, take: int | None) -> int:
    """Seed of take `take` of a shot: the shot's own seed for take 1 or none, else the take's own."""
    if take is None or take == 1:
        return shot_seed(master_seed, shot_path)
    return _seed_from(f"reelforge/take-seed/v1|{master_seed}|{shot_path}|{take}")


def take_number(take: int | None) -> int:
    """The take a job or a spec's shot renders: 1 when it names none."""
    return take or 1
