"""Review statuses of shot versions, Kitsu-style: waiting for review, retake, approved (issue 17).

A status belongs to one *version* of a shot (one job key, app/review.py): a re-render that makes a
new version starts again at *waiting for review*, and going back to an approved spec brings its
approval back, because the same key makes the same frames. Every status is a change-log entry of
kind "review" (entity `shot:PATH`, after = {status, job_key, version, render_id, note}) with the
actor and the reason, covered by a signed checkpoint; a retake must say what to fix.

Older "approval" entries (`reelforge approve`) count as *approved* for the version they name: a shot
approval for the shot's version in the approved render, an episode approval for every shot's version
in the approved cut. The latest entry about a version is its status.

A shot's state is the status of the version its spec plans when that version was rendered (with
takes, the picked one), else of its latest rendered version — *changed since approval* when that
version is approved but the current spec plans a different job key (an edit nobody rendered or
reviewed yet). A status goes on that same version unless another is named (`version`).

Store retention (app/store_retention.py) keeps a version for approval only while its latest status
is *approved*: a version approved and later sent back for a retake is no longer kept for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from reelforge.app.log_write import signed_write
from reelforge.app.render_request import RenderRefused, plan_episodes
from reelforge.app.review import ShotVersion, shot_versions
from reelforge.errors import SpecError
from reelforge.records import changelog
from reelforge.records.render_log import current_version
from reelforge.spec.load import load_production
from reelforge.spec.model import Production
from reelforge.store.catalog import existing_catalog, main_picture
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import RenderShot

WAITING, RETAKE, APPROVED, CHANGED = "waiting", "retake", "approved", "changed"
STATE_LABELS = {WAITING: "waiting for review", RETAKE: "retake", APPROVED: "approved",
                CHANGED: "changed since approval"}
STATUSES = (WAITING, RETAKE, APPROVED)  # what a person sets; CHANGED is only ever derived
MAX_NOTE = 4000  # characters of a status note


class ReviewRefused(Exception):
    """A status that cannot be set (unknown shot or version, a retake without a note): the message says why."""


@dataclass(frozen=True)
class ShotReview:
    """Where one shot stands in review: the state of its latest rendered version and who set it."""

    shot: str  # "s01e01/sc01/sh01"
    state: str  # one of STATE_LABELS
    job_key: str | None  # the version the state is about (review_of); None: never rendered
    note: str | None = None  # the reason given with the status
    actor: str | None = None
    at: str | None = None
    version: int | None = None  # the version's number (v1 = the first ever rendered)
    planned_key: str | None = None  # what the current spec plans (None: it does not plan right now)

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    def to_json(self) -> dict:
        return {"shot": self.shot, "state": self.state, "label": self.label, "job_key": self.job_key,
                "version": self.version, "note": self.note, "actor": self.actor, "at": self.at}


@dataclass(frozen=True)
class VersionStatus:
    """The latest status recorded for one version of a shot."""

    shot: str
    job_key: str
    status: str  # one of STATUSES
    note: str | None
    actor: str
    at: str
    seq: int  # its change-log entry


# --------------------------------------------------------------------------- reading


def version_statuses(session) -> dict[tuple[str, str], VersionStatus]:
    """The latest status of every version ever given one, by (shot path, job key), from the change log."""
    entries = changelog.entries(session, kind="review") + changelog.entries(session, kind="approval")
    found: dict[tuple[str, str], VersionStatus] = {}
    for entry in sorted(entries, key=lambda e: e.seq):  # log order: a later entry overrides
        try:
            after = changelog.state(session, entry.after_sha256)
        except changelog.LogError:  # a state removed by hand: `log verify` says so; nothing to read here
            continue
        for shot, key, status, note in _named_versions(session, entry, after):
            found[(shot, key)] = VersionStatus(shot, key, status, note, entry.actor, entry.at, entry.seq)
    return found


def _named_versions(session, entry, after) -> list[tuple[str, str, str, str | None]]:
    """(shot, job key, status, note) for each version one entry gives a status to."""
    if not isinstance(after, dict):
        return []
    prefix, _, name = entry.entity.partition(":")
    if entry.kind == "review":
        key, status = after.get("job_key"), after.get("status")
        if prefix == "shot" and isinstance(key, str) and status in STATUSES:
            return [(name, key, status, after.get("note"))]
        return []
    render = after.get("render")  # an "approval": the render it approved
    if after.get("status") != "approved" or not isinstance(render, dict):
        return []
    if prefix == "shot" and isinstance(render.get("job_key"), str):
        return [(name, render["job_key"], APPROVED, entry.reason)]
    if prefix == "episode":
        rows = session.scalars(select(RenderShot).where(RenderShot.render_id == render.get("render_id")))
        return [(row.shot_path, row.job_key, APPROVED, entry.reason) for row in rows]
    return []


def _rendered_keys(session) -> dict[str, tuple[list[str], dict[str, int]]]:
    """Every shot's rendered job keys, latest render first, and each key's version number (by its first
    render, as app/review.py numbers them; language deliveries are not renders of their own)."""
    rows = session.execute(select(RenderShot.shot_path, RenderShot.job_key)
                           .where(main_picture(RenderShot.render_id)).order_by(RenderShot.render_id.desc()))
    keys: dict[str, list[str]] = {}
    first_seen: dict[str, dict[str, int]] = {}  # newest render first: the last one seen is the first render
    for position, (shot, key) in enumerate(rows):
        found = keys.setdefault(shot, [])
        if key not in found:
            found.append(key)
        first_seen.setdefault(shot, {})[key] = position
    numbers = {shot: {key: number for number, key in enumerate(sorted(seen, key=seen.get, reverse=True), start=1)}
               for shot, seen in first_seen.items()}
    return {shot: (found, numbers[shot]) for shot, found in keys.items()}


def planned_keys(paths: ProductionPaths, production: Production) -> dict[str, str] | None:
    """The job key the current spec plans for each shot; None when it does not plan (a missing checkpoint)."""
    try:
        return {job.shot_path: job.key for plan in plan_episodes(production, paths.spec) for job in plan.jobs}
    except RenderRefused:
        return None


def shot_reviews(paths: ProductionPaths, production: Production,
                 planned: dict[str, str] | None = None) -> dict[str, ShotReview]:
    """Every shot's review state, by shot path, in spec order.

    `planned`: each shot's planned job key when the caller has it (the production status does);
    else the spec is planned here.
    """
    shots = [f"{e.id}/{sc.id}/{sh.id}" for e in production.episodes for sc in e.scenes for sh in sc.shots]
    planned = planned if planned is not None else (planned_keys(paths, production) or {})
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None:
            return {shot: ShotReview(shot, WAITING, None, planned_key=planned.get(shot)) for shot in shots}
        with catalog.session() as session:
            rendered, statuses = _rendered_keys(session), version_statuses(session)
    return {shot: review_of(shot, *rendered.get(shot, ([], {})), statuses, planned.get(shot)) for shot in shots}


def review_of(shot: str, keys: list[str], numbers: dict[str, int], statuses: dict[tuple[str, str], VersionStatus],
              planned: str | None) -> ShotReview:
    """One shot's state from its rendered keys (latest render first) and their version numbers, the recorded
    statuses and the planned key.

    The state is about the version the spec plans when that one was rendered (a picked take, not
    the newest take rendered to choose among), else about the newest version.
    """
    if not keys:
        return ShotReview(shot, WAITING, None, planned_key=planned)
    subject = planned if planned in keys else keys[0]
    number = numbers[subject]
    found = statuses.get((shot, subject))
    if found is None:
        return ShotReview(shot, WAITING, subject, version=number, planned_key=planned)
    state = found.status
    if state == APPROVED and planned is not None and planned != subject:
        state = CHANGED
    return ShotReview(shot, state, subject, found.note, found.actor, found.at, number, planned)


def status_of(paths: ProductionPaths, shot: str, job_key: str) -> VersionStatus | None:
    """The latest status recorded for one version (None: waiting for review, never set)."""
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None:
            return None
        with catalog.session() as session:
            return version_statuses(session).get((shot, job_key))


# --------------------------------------------------------------------------- setting


@dataclass(frozen=True)
class StatusSet:
    shot: str
    status: str
    version: ShotVersion
    seq: int  # its change-log entry
    checkpoint_id: int | None


def pick_version(versions: list[ShotVersion], shot: str, number: int | None) -> ShotVersion:
    """Version `number` of a shot, or its latest rendered one; ReviewRefused naming what exists."""
    if not versions:
        raise ReviewRefused(f"shot {shot} has not been rendered yet: render it before reviewing it")
    if number is None:
        return versions[0]
    for version in versions:
        if version.number == number:
            return version
    raise ReviewRefused(f"shot {shot} has no version {number}: it has v1 to v{len(versions)}")


def known_shot(production: Production, shot: str) -> None:
    """ReviewRefused unless `shot` is a shot of the spec."""
    shots = {f"{e.id}/{sc.id}/{sh.id}" for e in production.episodes for sc in e.scenes for sh in sc.shots}
    if shot not in shots:
        raise ReviewRefused(f"no shot {shot!r} in the spec (a shot is EPISODE/SCENE/SHOT, e.g. s01e01/sc01/sh01)")


def set_status(paths: ProductionPaths, production: Production, shot: str, status: str, note: str, actor: str,
               version: int | None = None, job_key: str | None = None,
               announce: Callable[[str], None] | None = None) -> StatusSet:
    """Record `status` for one version of `shot`: the one it stands at (`shot_reviews`), or one named by number or key.

    Steps: check the status, the note and the shot; find the version; append a "review" entry and
    sign a checkpoint, beside any render (app/log_write.py). Raises ReviewRefused, DeliveryError (an unusable
    signing identity) or ProductionBusy.
    """
    note = (note or "").strip()
    if status not in STATUSES:
        raise ReviewRefused(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if status == RETAKE and not note:
        raise ReviewRefused("a retake needs a note saying what to fix")
    if len(note) > MAX_NOTE:
        raise ReviewRefused(f"the note is {len(note)} characters: at most {MAX_NOTE}")
    known_shot(production, shot)
    chosen = chosen_version(paths, production, shot, version, job_key)
    after = {"status": status, "job_key": chosen.job_key, "version": chosen.number, "render_id": chosen.render_id,
             "note": note or None}
    entity = f"shot:{shot}"
    with signed_write(paths, production, "a review status", announce) as write:
        session = write.session
        previous = version_statuses(session).get((shot, chosen.job_key))
        before = {"status": previous.status, "job_key": chosen.job_key} if previous is not None else None
        seq = changelog.append_entry(session, actor=actor, kind="review", entity=entity,
                                     version=current_version(session, entity), before=before, after=after,
                                     reason=note or f"v{chosen.number}: {STATE_LABELS[status]}")
    return StatusSet(shot, status, chosen, seq, write.checkpoint_id)


def chosen_version(paths: ProductionPaths, production: Production, shot: str, number: int | None,
                   job_key: str | None) -> ShotVersion:
    """The version named by job key or number, else the one the shot stands at (`review_of`); ReviewRefused if none."""
    if number is None and job_key is None:
        job_key = shot_reviews(paths, production)[shot].job_key
        if job_key is None:
            raise ReviewRefused(f"shot {shot} has not been rendered yet: render it before reviewing it")
    with existing_catalog(paths.catalog) as catalog:
        versions = shot_versions(catalog, shot) if catalog is not None else []
    if job_key is not None:
        for candidate in versions:
            if candidate.job_key == job_key:
                return candidate
        raise ReviewRefused(f"shot {shot} has no rendered version with job key {job_key[:12]}…")
    return pick_version(versions, shot, number)


def reviews_for_spec(spec: Path, planned: dict[str, str] | None = None) -> dict[str, ShotReview]:
    """`shot_reviews` of the production at `spec`; empty while the spec does not load (the page shows the rest)."""
    try:
        production = load_production(spec)
    except SpecError:
        return {}
    return shot_reviews(ProductionPaths.for_spec(spec), production, planned)
