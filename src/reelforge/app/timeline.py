"""An episode's timeline strip: each shot a block as long as the shot, its review state, and its place in the cut.

What the episode page draws under its player: a director sees at a glance which shots are
approved, waiting or sent back for a retake (app/review_status.py), which are newer than the
episode file or never rendered, and jumps the player to a shot by its block.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.app.cut_status import IN_CUT, EpisodeCut
from reelforge.app.review_status import WAITING, ShotReview
from reelforge.app.status import NEVER_RENDERED, EpisodeStatus


@dataclass(frozen=True)
class TimelineBlock:
    path: str  # "s01e01/sc01/sh01"
    label: str  # "sc01/sh01"
    frames: int  # its length as the spec plans it: the block's share of the strip
    seconds: float
    review: str  # review state (app/review_status.py): waiting | retake | approved | changed
    review_label: str
    cut: str  # its place in the cut (app/cut_status.py SHOT_LABELS)
    cut_label: str
    never_rendered: bool
    start_seconds: float | None  # where the player jumps to; None: not in the episode file

    @property
    def stale(self) -> bool:
        """The file holds another version of the shot than the spec's, or none."""
        return self.cut != IN_CUT

    @property
    def title(self) -> str:
        """What a block says on hover (and to a screen reader)."""
        place = self.cut_label if not self.never_rendered else "never rendered"
        return f"{self.label} · {self.seconds:.2f} s · {self.review_label} · {place}"


def episode_timeline(episode: EpisodeStatus, cut: EpisodeCut, reviews: dict[str, ShotReview]) -> list[TimelineBlock]:
    """One block per shot of the episode, in the spec's order."""
    places = {shot.path: shot for shot in cut.shots}
    blocks = []
    for shot in episode.shots():
        place = places[shot.path]
        review = reviews.get(shot.path) or ShotReview(shot.path, WAITING, None)
        blocks.append(TimelineBlock(
            path=shot.path, label=f"{shot.scene_id}/{shot.shot_id}", frames=shot.frames, seconds=shot.seconds,
            review=review.state, review_label=review.label,
            cut=place.state, cut_label=place.label, never_rendered=shot.state == NEVER_RENDERED,
            start_seconds=place.start_seconds))
    return blocks
