"""Units of work for a farm: which shots (or frame spans of them) go out, and which the store already has.

A unit is a whole shot (the worker renders and encodes it, as `render_shot` does locally), a
span of a frame-independent shot (the worker renders only those frames; the driver encodes
the shot's segment once every span is in, from the stored frames, so the bytes are those of
a local render), or a range clip (`render --shot P --frames A:B`). Planning is pure: it reads
the store and decides; nothing is sent or written here except that a damaged manifest is
turned back into a journal (engine/shot.py: `stored_frames`), exactly as a local render does
(not for a dry run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from reelforge.engine.shot import FrameRepair, stored_frames
from reelforge.plan.jobs import ShotJob
from reelforge.store.shots import ShotStore

MIN_SPAN = 12  # frames: a shorter span costs more in transfer and start-up than it saves


@dataclass(frozen=True)
class Unit:
    id: int
    job: ShotJob
    span: tuple[int, int] | None = None  # frames [start, stop) of a split shot; None: the whole shot
    clip: bool = False  # a range render: `span`'s frames anew, encoded as a clip of their own

    @property
    def frames(self) -> int:
        return self.job.frames if self.span is None else self.span[1] - self.span[0]

    @property
    def on_actor(self) -> bool:
        """Generative shots run on actors that keep their pipelines loaded; previz runs as CPU tasks."""
        return self.job.model is not None

    def describe(self) -> str:
        if self.span is None:
            return self.job.shot_path
        return f"{self.job.shot_path} frames {self.span[0]}–{self.span[1] - 1}"


@dataclass
class FarmWork:
    units: list[Unit] = field(default_factory=list)
    reused: list[ShotJob] = field(default_factory=list)  # whole shots the store already holds
    repairs: list[FrameRepair] = field(default_factory=list)  # shots whose stored frames were damaged


def plan_units(jobs: Sequence[ShotJob], store: ShotStore, slots: int,
               frame_independent: Callable[[str], bool], repair: bool = True) -> FarmWork:
    """Units for the jobs not in the store: one per distinct job key, split into spans to fill `slots` workers.

    A frame-independent shot a killed render left half done goes out as spans of its missing
    frames only. While there are fewer units than workers, the longest frame-independent unit
    is halved (never below MIN_SPAN frames): one long SDXL shot then renders on every GPU.
    Journaled frames count only if they are intact in the store. `repair=False`: write nothing.
    """
    work, seen = FarmWork(), set()
    for job in jobs:
        if job.key in seen:
            continue
        seen.add(job.key)
        if stored_frames(job, store, repair, work.repairs) is not None:
            work.reused.append(job)
            continue
        journal = store.job(job.key).read_journal() if frame_independent(job.backend) else {}
        known = {index: digest for index, digest in journal.items() if store.frames.check(digest)}
        if not known:
            work.units.append(Unit(len(work.units), job))
            continue
        for start, stop in _runs([i for i in range(job.frames) if i not in known]):
            work.units.append(Unit(len(work.units), job, (start, stop)))
        if all(i in known for i in range(job.frames)):  # every frame journaled, only the segment is missing
            work.reused.append(job)
    while len(work.units) < slots:
        splittable = [u for u in work.units if not u.clip and frame_independent(u.job.backend)
                      and u.frames >= 2 * MIN_SPAN]
        if not splittable:
            break
        longest = max(splittable, key=lambda u: (u.frames, -u.id))
        start, stop = longest.span or (0, longest.job.frames)
        middle = start + (stop - start) // 2
        work.units[longest.id:longest.id + 1] = [replace(longest, span=(start, middle)),
                                                 replace(longest, span=(middle, stop))]
        work.units = [replace(unit, id=i) for i, unit in enumerate(work.units)]  # ids stay positions
    return work


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """[0, 1, 2, 5, 6] → [(0, 3), (5, 7)]."""
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs
