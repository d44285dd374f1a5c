"""Review statuses of shot versions, Kitsu-style: waiting for review, retake, approved (issue 17).

STUB written before the work was split: the interface other parts of the studio use. The helper
building review statuses replaces the body and keeps the names and the shape of `ShotReview`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.spec.model import Production
from reelforge.store.paths import ProductionPaths

WAITING, RETAKE, APPROVED, CHANGED = "waiting", "retake", "approved", "changed"
STATE_LABELS = {WAITING: "waiting for review", RETAKE: "retake", APPROVED: "approved",
                CHANGED: "changed since approval"}


@dataclass(frozen=True)
class ShotReview:
    """Where one shot stands in review: the state of its current version and who set it."""

    shot: str  # "s01e01/sc01/sh01"
    state: str  # one of STATE_LABELS
    job_key: str | None  # the version the status was set on (None: never reviewed)
    note: str | None = None  # the reason given with a retake or an approval
    actor: str | None = None
    at: str | None = None

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def shot_reviews(paths: ProductionPaths, production: Production) -> dict[str, ShotReview]:
    """Every shot's review state, by shot path (STUB: all waiting)."""
    return {f"{e.id}/{sc.id}/{sh.id}": ShotReview(f"{e.id}/{sc.id}/{sh.id}", WAITING, None)
            for e in production.episodes for sc in e.scenes for sh in sc.shots}
