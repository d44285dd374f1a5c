"""A shot's takes: which are rendered, which one the spec uses, and picking one.

A take is the shot rendered with a seed of its own (plan/takes.py), everything else as the spec
says. Takes are listed from the catalog for the shot *as its spec is now*: take k is shown when a
whole render of exactly that job (the shot's current job with take k's seed) is recorded, so a
take rendered before the prompt changed is not offered as a take of the new prompt.

Picking a take writes `"take": k` into the shot through the shot editor's own save
(app/shot_edit.py: validated like the CLI, committed with the actor and a reason, written
atomically). The picked take's frames are already in the store, so the next render of the shot
or its episode reuses them; the shot's status is that take's render at once (app/status.py).
The Open Studio's Takes panel and `reelforge render --shot P --takes N` both come here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from reelforge.app.render_request import RenderRefused, load_spec, plan_episodes
from reelforge.app.review import Playable, shot_video
from reelforge.app.shot_edit import EditResult, apply_shot_edit
from reelforge.plan.jobs import ShotJob, find_job, with_take
from reelforge.plan.takes import MAX_TAKES, take_number
from reelforge.store.catalog import existing_catalog
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import JobRecord, RenderShot

DEFAULT_TAKES = 4  # what the studio's "Render N takes" asks for unless told


class TakeRefused(Exception):
    """A takes request that cannot be done as asked; the message says why and what to do."""


class UnknownShot(TakeRefused):
    """No such shot in the spec."""


@dataclass(frozen=True)
class Take:
    """One take of a shot as its spec is now."""

    number: int
    seed: int
    job_key: str
    chosen: bool  # the take the spec uses now
    render_id: int | None  # its latest whole render; None: not rendered for this version of the shot
    still: str | None  # the digest of its middle frame, when the frame store has it
    video: Playable | None  # a file to play it from

    @property
    def rendered(self) -> bool:
        return self.render_id is not None


@dataclass(frozen=True)
class ShotTakes:
    shot_path: str
    chosen: int  # the take the spec uses (1 when it names none)
    takes: tuple[Take, ...]  # by number; the chosen one always among them, rendered or not
    base: str  # the spec's SHA-256: a pick made from this list is refused once the spec has changed

    @property
    def rendered(self) -> tuple[Take, ...]:
        return tuple(take for take in self.takes if take.rendered)


def spec_sha(spec: Path) -> str:
    """The spec's SHA-256, as the shot editor's forms carry it (`base`)."""
    return hashlib.sha256(Path(spec).read_bytes()).hexdigest()


def shot_job(spec: Path, shot_path: str) -> tuple[ShotJob, int]:
    """The shot's job as the spec plans it now, and the production's master seed."""
    production = load_spec(spec)
    try:
        return find_job(plan_episodes(production, spec), shot_path), production.seed
    except KeyError as exc:
        raise UnknownShot(exc.args[0]) from None


def shot_takes(spec: Path, shot_path: str) -> ShotTakes:
    """The shot's takes: every take number recorded for it, each as the shot's current job with that take's seed.

    Raises UnknownShot, or RenderRefused while the spec does not load.
    """
    spec = Path(spec)
    base = spec_sha(spec)
    job, master_seed = shot_job(spec, shot_path)
    chosen = take_number(job.take)
    paths = ProductionPaths.for_spec(spec)
    store = FrameStore(paths.frames)
    takes = []
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None:
            numbers = {chosen}
        else:
            with catalog.session() as session:
                # 1. Every take number the catalog has a job of, for this shot (take 1 is recorded as none).
                recorded = session.scalars(select(func.json_extract(JobRecord.job_json, "$.take")).distinct()
                                           .where(JobRecord.shot_path == shot_path))
                numbers = {take_number(number) for number in recorded} | {chosen}
        for number in sorted(numbers):
            # 2. That take of the shot as it is now, and its latest whole render.
            take = with_take(job, master_seed, number)
            frames = _whole_render(catalog, take) if catalog is not None else None
            if frames is None and number != chosen:
                continue  # a take of an earlier version of the shot
            render_id, hashes = frames or (None, ())
            still = hashes[len(hashes) // 2] if hashes else None
            video = shot_video(catalog, spec.parent, shot_path, take.key) if render_id is not None else None
            takes.append(Take(number=number, seed=take.seed, job_key=take.key, chosen=number == chosen,
                              render_id=render_id, still=still if still and store.has(still) else None,
                              video=video))
    return ShotTakes(shot_path=shot_path, chosen=chosen, takes=tuple(takes), base=base)


def _whole_render(catalog, job: ShotJob) -> tuple[int, tuple[str, ...]] | None:
    """(render id, frame hashes) of the latest render of the whole job, None if it was never rendered whole."""
    query = (select(RenderShot).where(RenderShot.job_key == job.key, RenderShot.first_frame == 0,
                                      RenderShot.frame_count == job.frames)
             .order_by(RenderShot.render_id.desc()).limit(1))
    with catalog.session() as session:
        row = session.scalars(query).first()
        return (row.render_id, tuple(row.frame_hashes)) if row is not None else None


def take_count(text: str | int | None) -> int:
    """How many takes to render, from a form or the command line: 1 to MAX_TAKES (DEFAULT_TAKES when not given)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return DEFAULT_TAKES
    try:
        count = int(text)
    except ValueError:
        raise TakeRefused(f"takes: give a whole number from 1 to {MAX_TAKES}, got {str(text)[:40]!r}") from None
    if not 1 <= count <= MAX_TAKES:
        raise TakeRefused(f"takes: give a whole number from 1 to {MAX_TAKES}, got {count}")
    return count


def pick_take(spec: Path, shot_path: str, number: int, *, base: str, reason: str, actor: str) -> EditResult:
    """Record `"take": number` in the shot, committed with `actor` and `reason` (the shot editor's save).

    Only a take rendered for the shot as it is now can be picked: its frames are then reused, never
    rendered again. Raises TakeRefused, or the shot editor's StaleEdit / EditInvalid.
    """
    try:
        takes = shot_takes(spec, shot_path)
    except RenderRefused as exc:
        raise TakeRefused(str(exc)) from None
    if number not in {take.number for take in takes.rendered}:
        rendered = ", ".join(str(take.number) for take in takes.rendered) or "none yet"
        raise TakeRefused(f"take {number} of {shot_path} is not rendered for the shot as it is now "
                          f"(rendered: {rendered}); render it first")
    return apply_shot_edit(spec, shot_path, {"take": str(number)}, base=base, reason=reason, actor=actor)
