"""Whether an episode's file is the cut the spec makes now: up to date, or *cut outdated* (and why, shot by shot).

An episode file is assembled from one version (job key) of each shot. It is up to date when it
holds exactly the shots the spec plans, in order, each in the version the spec plans — which is
what a render of the episode would deliver now. Otherwise it is outdated, and each shot says why:
re-rendered since the cut (the current version is in the store: re-assembling joins it by stream
copy, in seconds), changed and not rendered yet (a render is needed first), missing from the cut,
or no longer in the spec. A shot rendered again in the version the cut holds makes the same frames,
so it outdates nothing; a render of a version the spec does not plan (an unpicked take, a
`--backend` override) neither: re-assembling would not bring it into the cut.

The file is also outdated when the spec's `delivery` now asks for other encode settings (crf,
preset, encoder threads, size, fps) than the file was encoded with: a render would deliver other
bytes. Its shots keep their place (their frames are the same), and re-assembling brings it up to
date without rendering a frame: each shot's segment is encoded again from its stored frames with
the new settings (engine/shot.py re-encodes a stored shot whose segment for those settings is not
kept), which takes an encode's time rather than a stream copy's. Text a language delivery carries
(subtitles, titles) is not judged here.

The file judged is the one the episode page plays (app/review.py: `episode_videos`), so a page
never calls up to date a file other than the one it shows. `reelforge status`, the production tree
and the episode page read this through app/status.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from reelforge.app.review import EpisodeDelivery, episode_videos
from reelforge.media.encode import EncodeSettings
from reelforge.plan.jobs import EpisodePlan
from reelforge.store.catalog import existing_catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore

# the episode file
NO_FILE, UP_TO_DATE, OUTDATED = "no-file", "cut-up-to-date", "cut-outdated"
LABELS = {NO_FILE: "not assembled yet", UP_TO_DATE: "cut up to date", OUTDATED: "cut outdated"}

# one shot's place in it
IN_CUT, NEWER, UNRENDERED, MISSING, DROPPED = "in-cut", "newer", "unrendered", "missing", "dropped"
NAMED_SHOTS = 3  # a reason names up to this many shots of each kind
SHOT_LABELS = {IN_CUT: "as in the cut", NEWER: "re-rendered since the cut", UNRENDERED: "changed, not rendered yet",
               MISSING: "not in the cut", DROPPED: "no longer in the spec"}


@dataclass(frozen=True)
class CutShot:
    """One shot of the episode as the spec plans it (or as the file holds a shot the spec dropped)."""

    path: str
    state: str  # one of SHOT_LABELS
    planned_key: str | None  # None: no longer in the spec
    cut_key: str | None  # the version the file holds; None: not in the file
    frames: int  # its length as planned (as cut, for a dropped shot)
    stored: bool  # the planned version is kept whole in the store: it can be joined without rendering
    start_seconds: float | None = None  # where it starts in the file; None: not in the file
    end_seconds: float | None = None

    @property
    def label(self) -> str:
        return SHOT_LABELS[self.state]


@dataclass(frozen=True)
class EpisodeCut:
    """The episode's file (the one its page plays) against the spec."""

    episode_id: str
    state: str  # one of LABELS
    shots: tuple[CutShot, ...]  # in the spec's order, then shots the file holds that the spec dropped
    render_id: int | None = None  # of the file
    finished_at: str | None = None
    file: Path | None = None
    encode_change: str = ""  # how the spec's encode settings differ from the file's: 'crf 18 → 23'; '': the same

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def up_to_date(self) -> bool:
        return self.state == UP_TO_DATE

    @property
    def can_assemble(self) -> bool:
        """Not up to date, and every planned shot is in the store: assembling joins them, rendering nothing."""
        planned = [shot for shot in self.shots if shot.planned_key is not None]
        return not self.up_to_date and bool(planned) and all(shot.stored for shot in planned)

    @property
    def to_render(self) -> tuple[str, ...]:
        """Shots that must render before the episode can be assembled."""
        return tuple(shot.path for shot in self.shots if shot.planned_key is not None and not shot.stored)

    @property
    def reason(self) -> str:
        """Why it is outdated, in a line ('' when up to date): '1 shot re-rendered since the cut (sc01/sh02); …'."""
        if self.state == NO_FILE:
            return "no file of this episode is on disk yet"
        by_state: dict[str, list[str]] = {}
        for shot in self.shots:
            by_state.setdefault(shot.state, []).append(shot.path.partition("/")[2] or shot.path)  # SCENE/SHOT
        parts = [f"{len(shots)} shot{'s' if len(shots) != 1 else ''} {SHOT_LABELS[state]} "
                 f"({', '.join(shots[:NAMED_SHOTS])}{', …' if len(shots) > NAMED_SHOTS else ''})"
                 for state, shots in by_state.items() if state != IN_CUT]
        if self.encode_change:
            parts.append(f"encode settings changed ({self.encode_change})")
        if self.state == OUTDATED and not parts:
            parts = ["its shots are in another order than the spec's"]
        return "; ".join(parts)

    def to_json(self) -> dict:
        return {"state": self.state, "label": self.label, "reason": self.reason, "render_id": self.render_id,
                "finished_at": self.finished_at, "encode_change": self.encode_change, "can_assemble": self.can_assemble, "to_render": list(self.to_render),
                "shots": [{"path": s.path, "state": s.state, "label": s.label, "planned_key": s.planned_key,
                           "cut_key": s.cut_key, "stored": s.stored} for s in self.shots]}


def episode_cuts(spec: Path, plans: Iterable[EpisodePlan], settings: EncodeSettings) -> dict[str, EpisodeCut]:
    """Every planned episode's cut against its plan and the encode `settings` the spec asks for, by episode id;
    reads nothing (and creates nothing) without a catalog."""
    paths = ProductionPaths.for_spec(spec)
    store = ShotStore.of(paths)
    plans = list(plans)
    with existing_catalog(paths.catalog) as catalog:
        pictures = {plan.episode_id: episode_videos(catalog, paths.root, plan.episode_id).picture
                    if catalog is not None else None for plan in plans}
    return {plan.episode_id: judge_cut(plan, pictures[plan.episode_id], store, settings) for plan in plans}


def judge_cut(plan: EpisodePlan, picture: EpisodeDelivery | None, store: ShotStore,
              settings: EncodeSettings) -> EpisodeCut:
    """One episode's file (None: none on disk) against its plan, shot by shot, and its encode settings."""
    spans = {span.shot_path: span for span in picture.shots} if picture is not None else {}
    shots = []
    for job in plan.jobs:
        span = spans.get(job.shot_path)
        stored = store.holds(job.key, job.frames)
        if span is None:
            state = MISSING
        elif span.job_key == job.key:
            state = IN_CUT
        else:
            state = NEWER if stored else UNRENDERED
        shots.append(CutShot(job.shot_path, state, job.key, span.job_key if span else None, job.frames, stored,
                             span.start_seconds if span else None, span.end_seconds if span else None))
    planned = {job.shot_path for job in plan.jobs}
    shots += [CutShot(span.shot_path, DROPPED, None, span.job_key, span.frames, False, span.start_seconds,
                      span.end_seconds) for span in spans.values() if span.shot_path not in planned]
    if picture is None:
        return EpisodeCut(plan.episode_id, NO_FILE, tuple(shots))
    same = [(s.shot_path, s.job_key) for s in picture.shots] == [(job.shot_path, job.key) for job in plan.jobs]
    change = encode_change(picture.encode, settings)
    return EpisodeCut(plan.episode_id, UP_TO_DATE if same and not change else OUTDATED, tuple(shots),
                      picture.render_id, picture.finished_at, picture.path, change)


def encode_change(was: EncodeSettings, now: EncodeSettings) -> str:
    """Each encode setting that differs, as it was → as it is now: 'crf 18 → 23, encoder threads 2 → 4'."""
    names = {"threads": "encoder threads"}  # as the spec's delivery calls them
    return ", ".join(f"{names.get(field.name, field.name)} {getattr(was, field.name)} → {getattr(now, field.name)}"
                     for field in fields(EncodeSettings) if getattr(was, field.name) != getattr(now, field.name))
