"""Where each shot of a production stands: never rendered, up to date, or changed since its last render.

Each episode also says whether its file is the cut the spec makes now (app/cut_status.py): a shot's
"up to date" is about the shot's own latest render, never about an episode file that may hold an
older version of it.

A shot is up to date when its latest whole render (in an episode, or alone; a `--frames` range
of part of it does not count) used the job key the current spec plans for it. A shot rendered in
takes (app/takes.py) is judged by its latest render of the take its spec uses, when there is one:
rendering other takes to choose among does not make a shot "changed". The key covers everything that
can change a pixel — the spec's fields, the backend, checkpoints, engine code — so any such
change makes the shot `changed`, whether someone edited the spec or upgraded reelforge.

The status also carries what a production overview shows beside each shot: a thumbnail
(the middle frame of its latest render, by content hash in the frame store), its cast in the
production's language, its scene and episode titles, and its length. `reelforge status` and
the Open Studio's production tree both read it from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from reelforge.app.checked_records import render_audits
from reelforge.app.cut_status import EpisodeCut, episode_cuts
from reelforge.app.render_request import RenderRefused, load_spec, plan_episodes
from reelforge.app.review import ReviewError, frame_png
from reelforge.media.encode import encode_settings
from reelforge.records.render_log import changed_fields
from reelforge.records.spec_changes import committed_contents, job_words, shot_changes, spec_contents
from reelforge.spec.base import text_in
from reelforge.spec.store import StoreSettings
from reelforge.store.catalog import Catalog, existing_catalog, main_delivery
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import JobRecord, RenderCommit, RenderRecord, RenderShot

NEVER_RENDERED = "never-rendered"
UP_TO_DATE = "up-to-date"
CHANGED = "changed"
STATES = (NEVER_RENDERED, UP_TO_DATE, CHANGED)
LABELS = {NEVER_RENDERED: "never rendered", UP_TO_DATE: "up to date", CHANGED: "spec changed"}
THUMBNAIL_WIDTH = 320


@dataclass(frozen=True)
class CastMember:
    id: str
    name: str  # in the production's language


@dataclass(frozen=True)
class LastRender:
    """The latest render a shot appeared in, and what it used."""

    render_id: int
    kind: str  # "episode" | "shot"
    finished_at: str
    job_key: str
    first_frame: int
    frame_hashes: tuple[str, ...]
    tampered: str | None = None  # its rows disagree with its change-log entry: which row and field

    @property
    def thumbnail(self) -> str:
        """The digest of the middle frame of what this render made of the shot."""
        return self.frame_hashes[len(self.frame_hashes) // 2]


@dataclass(frozen=True)
class ShotStatus:
    path: str  # "s01e01/sc01/sh01"
    episode_id: str
    scene_id: str
    shot_id: str
    state: str  # one of STATES
    job_key: str  # what the current spec plans
    frames: int
    fps: int
    prompt: str  # in the production's language
    cast: tuple[CastMember, ...]
    last_render: LastRender | None
    thumbnail: str | None  # frame digest, present only when the frame store has it
    changed_fields: tuple[str, ...] = ()  # what was edited since the last render, in the spec's words
    changed_job_fields: tuple[str, ...] = ()  # the job fields that differ from the last render's job (details)
    backend: str = "previz"  # what renders it: previz draws the blocking only, and no prompt

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def to_json(self) -> dict:
        last = self.last_render
        return {"path": self.path, "episode": self.episode_id, "scene": self.scene_id, "shot": self.shot_id,
                "status": self.state, "label": self.label, "job_key": self.job_key, "frames": self.frames,
                "seconds": round(self.seconds, 3), "prompt": self.prompt,
                "cast": [{"id": c.id, "name": c.name} for c in self.cast],
                "thumbnail": self.thumbnail, "changed_fields": list(self.changed_fields),
                "changed_job_fields": list(self.changed_job_fields), "backend": self.backend,
                "last_render": None if last is None else {
                    "render_id": last.render_id, "kind": last.kind, "finished_at": last.finished_at,
                    "job_key": last.job_key, "first_frame": last.first_frame, "frames": len(last.frame_hashes),
                    "tampered": last.tampered}}


@dataclass(frozen=True)
class SceneStatus:
    id: str
    title: str
    shots: tuple[ShotStatus, ...]


@dataclass(frozen=True)
class EpisodeStatus:
    id: str
    title: str
    scenes: tuple[SceneStatus, ...]
    cut: EpisodeCut | None = None  # its file against the spec (app/cut_status.py): up to date or cut outdated

    def shots(self) -> Iterator[ShotStatus]:
        for scene in self.scenes:
            yield from scene.shots

    @property
    def frames(self) -> int:
        return sum(shot.frames for shot in self.shots())


@dataclass(frozen=True)
class ProductionStatus:
    spec: Path
    title: str
    language: str
    fps: int
    episodes: tuple[EpisodeStatus, ...]
    counts: dict[str, int] = field(default_factory=dict)  # state → number of shots
    store: StoreSettings = field(default_factory=StoreSettings)  # its budget: app/store_budget.py measures against it

    def shots(self) -> Iterator[ShotStatus]:
        for episode in self.episodes:
            yield from episode.shots()

    def shot(self, path: str) -> ShotStatus | None:
        return next((shot for shot in self.shots() if shot.path == path), None)

    def to_json(self) -> dict:
        return {"spec": str(self.spec), "title": self.title, "language": self.language, "counts": self.counts,
                "episodes": [{"id": e.id, "title": e.title, "cut": e.cut.to_json() if e.cut is not None else None,
                              "scenes": [{"id": s.id, "title": s.title, "shots": [shot.to_json() for shot in s.shots]}
                                         for s in e.scenes]} for e in self.episodes]}


def production_status(spec: Path) -> ProductionStatus:
    """Every shot's status, episodes → scenes → shots in spec order.

    Raises rendering.RenderRefused for a spec that does not load or plan (with every problem).
    """
    spec = Path(spec)
    production = load_spec(spec)
    plans = {plan.episode_id: plan for plan in plan_episodes(production, spec)}
    language = production.language

    def said(text, fallback: str) -> str:
        return text_in(text, language, language) or fallback

    names = {c.id: said(c.name, c.id) for c in production.characters}
    jobs = {job.shot_path: job for plan in plans.values() for job in plan.jobs}
    renders = latest_renders(spec, whole={job.key: job.frames for job in jobs.values()},
                             takes={path: job.take for path, job in jobs.items()})
    changed = _changed_fields(spec, production, {path: (renders[path], jobs[path]) for path in jobs
                                                 if path in renders and renders[path].job_key != jobs[path].key})
    store = _frame_store(spec)
    cuts = episode_cuts(spec, plans.values(), encode_settings(production.delivery))
    episodes = []
    for episode in production.episodes:
        scenes = []
        for scene in episode.scenes:
            shots = []
            for shot in scene.shots:
                path = f"{episode.id}/{scene.id}/{shot.id}"
                job = jobs[path]
                last = renders.get(path)
                state = NEVER_RENDERED if last is None else UP_TO_DATE if last.job_key == job.key else CHANGED
                thumbnail = last.thumbnail if last is not None and last.frame_hashes else None
                if thumbnail is not None and not store.has(thumbnail):
                    thumbnail = None
                shots.append(ShotStatus(
                    path=path, episode_id=episode.id, scene_id=scene.id, shot_id=shot.id, state=state,
                    job_key=job.key, frames=job.frames, fps=production.delivery.fps, prompt=said(shot.prompt, ""),
                    cast=tuple(CastMember(who, names.get(who, who)) for who in shot.cast), last_render=last,
                    thumbnail=thumbnail, changed_fields=changed.get(path, ((), ()))[0],
                    changed_job_fields=changed.get(path, ((), ()))[1], backend=job.backend))
            scenes.append(SceneStatus(scene.id, said(scene.title, scene.id), tuple(shots)))
        episodes.append(EpisodeStatus(episode.id, said(episode.title, episode.id), tuple(scenes), cuts[episode.id]))
    counts = {state: 0 for state in STATES}
    for episode in episodes:
        for shot in episode.shots():
            counts[shot.state] += 1
    return ProductionStatus(spec=spec, title=said(production.series.title, production.series.id), language=language,
                            fps=production.delivery.fps, episodes=tuple(episodes), counts=counts,
                            store=production.store)


def latest_renders(spec: Path, shot_paths: list[str] | None = None, whole: dict[str, int] | None = None,
                   takes: dict[str, int | None] | None = None) -> dict[str, LastRender]:
    """Each shot's latest render from the catalog (shots never rendered are absent).

    With `whole` (job key → frame count), only renders of a whole shot count: a range that starts
    later or stops early is skipped, so a shot re-rendered only in part is not called up to date.
    With `takes` (shot path → the take its spec uses, None for take 1), a shot's latest render of
    that take wins over later renders of its other takes.

    Reads nothing (and creates nothing) when the production has no catalog yet.
    """
    query = (select(RenderShot, RenderRecord.kind, RenderRecord.finished_at,
                    func.json_extract(JobRecord.job_json, "$.take"))
             .join(RenderRecord, RenderRecord.id == RenderShot.render_id)
             .join(JobRecord, JobRecord.key == RenderShot.job_key)
             .where(main_delivery(RenderShot.render_id))  # a named delivery's other framing is no version
             .order_by(RenderShot.render_id.desc(), RenderShot.position))
    if shot_paths is not None:
        query = query.where(RenderShot.shot_path.in_(shot_paths))
    of_take: dict[str, LastRender] = {}  # the latest render of the take the spec uses
    found: dict[str, LastRender] = {}  # the latest render of any take
    with existing_catalog(ProductionPaths.for_spec(spec).catalog) as catalog:
        if catalog is None:
            return {}
        with catalog.session() as session:
            for row, kind, finished_at, take in session.execute(query):
                if whole is not None and (row.first_frame != 0 or len(row.frame_hashes)
                                          != whole.get(row.job_key, len(row.frame_hashes))):
                    continue
                last = LastRender(row.render_id, kind, finished_at, row.job_key, row.first_frame,
                                  tuple(row.frame_hashes))
                found.setdefault(row.shot_path, last)
                if takes is not None and row.shot_path in takes and take == takes[row.shot_path]:
                    of_take.setdefault(row.shot_path, last)
    found.update(of_take)
    # the renders shown, checked against the change log: an edited row is marked, not believed silently
    audits = render_audits(ProductionPaths.for_spec(spec), [last.render_id for last in found.values()])
    return {path: dataclasses.replace(last, tampered=audits[last.render_id].problems[0])
            if last.render_id in audits and not audits[last.render_id].ok else last for path, last in found.items()}


def _changed_fields(spec: Path, production, moved: dict[str, tuple[LastRender, object]]
                    ) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """For shots whose key moved: (what was edited in the spec since the render, the job fields that differ).

    The edits compare the spec now with the commit the last render was made from; where no spec field
    moved (a reelforge upgrade, another model file), the job fields that did are said in words.
    """
    if not moved:
        return {}
    now = spec_contents(production, spec.absolute().parent)
    found = {}
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog, catalog.session() as session:
        states: dict[int, dict] = {}  # commit → its contents, read once for every shot rendered from it
        for path, (last, job) in moved.items():
            job_fields = changed_fields(session, last.job_key, job.model_dump(mode="json"))
            link = session.get(RenderCommit, last.render_id)
            edits = []
            if link is not None:
                if link.commit_id not in states:
                    states[link.commit_id] = committed_contents(session, link.commit_id)
                edits = shot_changes(states[link.commit_id], now, path)
            found[path] = (tuple(edits or job_words(job_fields)), tuple(job_fields))
    return found


def _frame_store(spec: Path):
    return FrameStore(ProductionPaths.for_spec(spec).frames)


# --------------------------------------------------------------------------- thumbnails


def shot_thumbnail(spec: Path, shot_path: str) -> str | None:
    """The digest of the shot's thumbnail frame (the middle of its latest render of the take its spec uses, as its
    status has it), None if it has none stored."""
    last = latest_renders(spec, [shot_path], takes=_spec_takes(spec, shot_path)).get(shot_path)
    if last is None or not last.frame_hashes:
        return None
    digest = last.thumbnail
    return digest if _frame_store(spec).has(digest) else None


def _spec_takes(spec: Path, shot_path: str) -> dict[str, int | None] | None:
    """{shot path: the take its spec uses (None for take 1)}; None while the spec does not load."""
    try:
        production = load_spec(spec)
    except RenderRefused:
        return None
    for episode in production.episodes:
        for scene in episode.scenes:
            for shot in scene.shots:
                if f"{episode.id}/{scene.id}/{shot.id}" == shot_path:
                    return {shot_path: shot.take if shot.take != 1 else None}
    return None


def thumbnail_png(spec: Path, digest: str, width: int = THUMBNAIL_WIDTH) -> bytes | None:
    """A stored frame scaled down to `width` pixels (never up), as PNG bytes; None when it is not stored intact."""
    try:
        return frame_png(_frame_store(spec), digest, width)
    except ReviewError:
        return None
