"""The frame store against the production's size budget (`$.store.budget`): a warning before a render would
pass it, a note after one did, and the size line `status` and the studio's overview show.

A budget never blocks a render: it is a studio's plan for its disk, and `reelforge store du | gc`
are how it acts on it. Everything here reads file sizes and the jobs' journals and manifests,
never a frame's pixels, so the check costs milliseconds before a render of hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reelforge.plan.jobs import ShotJob
from reelforge.spec.store import StoreSettings, format_size
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.store.usage import StoreSize, store_size

BUDGET_PATH = "$.store.budget"
# An empty store has no frame to measure: a new frame is guessed at half its raw RGB24 size (W × H × 3 / 2),
# between a gray-box frame (a few % of raw) and a grainy generative one (about raw: it barely compresses).
RAW_SHARE = 0.5
WHAT_TO_DO = "`reelforge store du` shows what is superseded, `reelforge store gc` frees it"


@dataclass(frozen=True)
class StoreBudget:
    """How big the production's `.reelforge/` is, and its budget when the spec sets one."""

    size: StoreSize
    budget: str | None  # as written in the spec ("200 GB")
    budget_bytes: int | None

    @property
    def over(self) -> bool:
        return self.budget_bytes is not None and self.size.total > self.budget_bytes

    @property
    def line(self) -> str:
        """'store: .reelforge holds 1.2 GB, 12% of the 10 GB budget'."""
        return self.said(where=True)

    def said(self, where: bool = False) -> str:
        """The line; `where`: with the spec field that sets a budget when none is set (the studio shows it apart)."""
        held = f"store: .reelforge holds {_about(self.size)}{format_size(self.size.total)}"
        if self.budget_bytes is None:
            return f"{held} (no budget set{f': {BUDGET_PATH}' if where else ''})"
        used = f"{self.size.total / self.budget_bytes:.0%} of" if self.budget_bytes else "over"
        return f"{held}, {used} the {self.budget} budget" + (" (over it)" if self.over and self.budget_bytes else "")

    def to_json(self) -> dict:
        return {"bytes": self.size.total, "frames": self.size.frames, "estimated": self.size.sampled,
                "budget": self.budget, "budget_bytes": self.budget_bytes,
                "used": None if not self.budget_bytes else round(self.size.total / self.budget_bytes, 4)}


def store_against_budget(spec: Path, settings: StoreSettings) -> StoreBudget:
    """The size of the spec's store now (store/usage.py: exact, or estimated from a sample of a very large store)."""
    return StoreBudget(store_size(ProductionPaths.for_spec(spec)), settings.budget, settings.budget_bytes)


def frames_to_store(jobs: Iterable[ShotJob], store: ShotStore, frames: tuple[int, int] | None = None) -> dict[str, int]:
    """Per job key, how many frames a render of `jobs` (or of the range `frames` of one) would newly store.

    A frame the shot's manifest (or, for a shot cut off, its journal) records is counted as stored:
    a reused shot adds nothing. The records are trusted rather than each frame stat'ed (a frame
    missing from the store is rare, and the render repairs it). Identical frames are stored once,
    so this is an upper bound.
    """
    new: dict[str, int] = {}
    for job in jobs:
        files = store.job(job.key)
        manifest = files.read_manifest()
        known = dict(enumerate(manifest)) if manifest is not None and len(manifest) == job.frames \
            else files.read_journal()
        start, stop = frames or (0, job.frames)
        new[job.key] = sum(1 for index in range(start, stop) if index not in known)
    return new


def estimated_growth(jobs: Iterable[ShotJob], new: dict[str, int], size: StoreSize) -> int:
    """Bytes the `new` frames of `jobs` would add: each at the mean size of the frames stored, else RAW_SHARE of raw."""
    mean = size.mean_frame_bytes
    return round(sum(new.get(job.key, 0) * (mean if mean is not None else
                                              job.canvas_width * job.canvas_height * 3 * RAW_SHARE)
                     for job in jobs))


def budget_warning(spec: Path, settings: StoreSettings, jobs: list[ShotJob],
                   frames: tuple[int, int] | None = None) -> str | None:
    """One line when rendering `jobs` would take the store past its budget; None when it would not (or no budget).

    The estimate: the store's bytes now + (frames this render newly stores × bytes per stored
    frame). Nothing is said for a render that stores nothing new: the note after it says it if
    the store is over budget already.
    """
    if settings.budget_bytes is None:
        return None
    paths = ProductionPaths.for_spec(spec)
    new = frames_to_store(jobs, ShotStore.of(paths), frames)
    if not any(new.values()):
        return None
    size = store_size(paths)
    after = size.total + estimated_growth(jobs, new, size)
    if after <= settings.budget_bytes:
        return None
    return (f"store budget: this render would bring .reelforge to about {format_size(after)}, past the budget of "
            f"{settings.budget} ({BUDGET_PATH} in {spec.name}); {WHAT_TO_DO}")


def over_budget_note(spec: Path, settings: StoreSettings) -> str | None:
    """One line when the store is past its budget now (after a render); None when it is not (or no budget)."""
    if settings.budget_bytes is None:
        return None
    usage = store_against_budget(spec, settings)
    if not usage.over:
        return None
    return (f"store budget: .reelforge now holds {_about(usage.size)}{format_size(usage.size.total)}, past the "
            f"budget of {settings.budget} ({BUDGET_PATH} in {spec.name}); {WHAT_TO_DO}")


def _about(size: StoreSize) -> str:
    return "about " if size.sampled else ""
