"""Reviewing renders: the versions of a shot, what to play, stored frames and exact frame differences.

A fix is reviewed against what was there before, without reroll randomness: a shot's job key
covers everything that can change a pixel, so two renders with one key made the same frames and
are one *version*; two keys are two versions whose frames can be compared index by index. The
frames come from the content-addressed frame store, exactly as rendered (not decoded from the
lossy video), so a difference of one level in one channel of one pixel shows as "differs".

What to play comes from the catalog too, and only a file that still holds what the catalog says
is offered: a render is playable while it is the newest render written to its path, its file
exists, and the path resolves inside the production folder (a render written elsewhere with
`--out`, or a recorded path through a symlink that leaves the folder, is never served).

The Open Studio's review pages call these functions; so could a command line.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from reelforge.backends import previz
from reelforge.deliver.localize import language_output
from reelforge.engine.record import recorded_encode_settings
from reelforge.media.encode import EncodeSettings
from reelforge.records.render_log import changed_fields
from reelforge.records.spec_changes import committed_contents, job_words, shot_changes
from reelforge.store.catalog import Catalog, main_picture
from reelforge.store.frames import CorruptFrame, FrameStore
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import inside_production
from reelforge.store.schema import (
    CommitRecord,
    DeliveryRecord,
    JobRecord,
    LocalizedDelivery,
    RenderCommit,
    RenderRecord,
    RenderShot,
)

DIGEST = re.compile(r"[0-9a-f]{64}")  # a frame's name in the store: SHA-256 of its pixels, lower-case hex
MIN_WIDTH, MAX_WIDTH = 16, 7680  # a requested frame width is clamped to this range (and never scales up)


# --------------------------------------------------------------------------- errors


class ReviewError(Exception):
    """What was asked cannot be shown; the message says why (the studio maps each kind to a status)."""


class UnknownFrame(ReviewError):
    """Not a frame digest, or no such frame in the store (or it was damaged and removed)."""


class BadWidth(ReviewError):
    """A requested width that is not a positive whole number of pixels."""


class FrameSizeMismatch(ReviewError):
    """Two frames of different sizes have no pixel-by-pixel difference."""


class UnknownRender(ReviewError):
    """No render with this id is recorded."""


class MediaUnavailable(ReviewError):
    """A recorded render whose file is gone or was overwritten by a later render."""


class OutsideProduction(ReviewError):
    """A recorded file that does not lie inside the production folder: never served."""


# --------------------------------------------------------------------------- the catalog


def _picture_renders():
    """Renders that are pictures of the main delivery: language deliveries carry a picture's frames again, and
    a named delivery (a 9:16 cut, a ProRes master) is another delivery of the same shots, not a version."""
    return main_picture()


def _current_file(session, root: Path, record: RenderRecord) -> Path | None:
    """The render's file when it can be played: newest render at its path, inside the production, present."""
    newest = session.scalar(select(func.max(RenderRecord.id)).where(RenderRecord.output_path == record.output_path))
    if newest != record.id:
        return None
    path = inside_production(root, record.output_path)
    return path if path is not None and path.is_file() else None


# --------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class ShotVersion:
    """One distinct render of a shot (one job key), described by the latest render that made it."""

    number: int  # 1 = the first version ever rendered
    job_key: str
    render_id: int  # the latest render with this key
    kind: str  # of that render: "episode" | "shot"
    finished_at: str
    actor: str | None  # who rendered it
    commit_id: int | None  # the spec commit it was rendered from
    commit_reason: str | None
    commit_actor: str | None
    frames: int  # the shot's length in this version
    first_frame: int  # index of frame_hashes[0] in the shot (0 unless only a range was rendered)
    frame_hashes: tuple[str, ...]  # a contiguous run from first_frame, in playback order
    renders: tuple[int, ...]  # every render with this key, newest first
    changed: tuple[str, ...] = ()  # what was edited since the version before it, in the spec's words
    changed_job: tuple[str, ...] = ()  # the job fields that differ from the version before it (details)
    backend: str | None = None  # what rendered it (previz draws no prompt)
    take: int | None = None  # the take it is (app/takes.py); None: the shot's own seed, take 1

    def digest_at(self, index: int) -> str | None:
        """The digest of the shot's frame `index` in this version, None where it was not rendered."""
        offset = index - self.first_frame
        return self.frame_hashes[offset] if 0 <= offset < len(self.frame_hashes) else None

    def frames_by_index(self) -> list[str | None]:
        """A digest (or None) for every frame index of the shot, 0 to its length."""
        return [self.digest_at(index) for index in range(max(self.frames, self.first_frame + len(self.frame_hashes)))]

    @property
    def label(self) -> str:
        who = f" by {self.actor}" if self.actor else ""
        take = f" (take {self.take})" if self.take else ""
        return f"v{self.number}{take} · render #{self.render_id} · {plain_time(self.finished_at)}{who}"


def plain_time(at: str) -> str:
    """'2026-12-07T18:09:52+00:00' as people read it: '2026-12-07 18:09 UTC' (other text as it is)."""
    return f"{at[:10]} {at[11:16]} UTC" if len(at) >= 16 and at[10:11] == "T" else at


def shot_versions(catalog: Catalog, shot_path: str) -> list[ShotVersion]:
    """The distinct renders of one shot, newest version first: one per job key, described by its latest render.

    A version's number says when it first appeared (v1 = the first key ever rendered) and never
    changes: rendering an older version again (a full render reusing it, a take re-picked) renews its
    latest render, not its number, so statuses and notes recorded as "v2" keep meaning the same frames.
    Frames rendered under one key are identical by construction, so the frames of every render of a
    key are merged by index (a range render adds to a full one); language deliveries, which carry a
    picture's frames again, are not renders of their own.
    """
    query = (select(RenderShot, RenderRecord.kind, RenderRecord.finished_at)
             .join(RenderRecord, RenderRecord.id == RenderShot.render_id)
             .where(RenderShot.shot_path == shot_path, _picture_renders())
             .order_by(RenderShot.render_id.desc()))
    with catalog.session() as session:
        by_key: dict[str, dict] = {}  # the latest render of each key comes first
        for row, kind, finished_at in session.execute(query):
            found = by_key.setdefault(row.job_key, {"latest": row, "kind": kind, "finished_at": finished_at,
                                                    "renders": [], "frames": {}})
            found["renders"].append(row.render_id)
            for offset, digest in enumerate(row.frame_hashes):
                found["frames"].setdefault(row.first_frame + offset, digest)
        keys = sorted(by_key, key=lambda k: min(by_key[k]["renders"]), reverse=True)  # by first render, newest first
        commits = {key: session.get(RenderCommit, by_key[key]["latest"].render_id) for key in keys}
        states: dict[int, dict] = {}
        versions = []
        for position, key in enumerate(keys):
            found = by_key[key]
            latest: RenderShot = found["latest"]
            delivery = session.get(DeliveryRecord, latest.render_id)
            link = session.get(RenderCommit, latest.render_id)
            commit = session.get(CommitRecord, link.commit_id) if link is not None else None
            job = session.get(JobRecord, key)
            older = keys[position + 1] if position + 1 < len(keys) else None
            changed_job = tuple(_changed(session, older, job)) if older is not None and job is not None else ()
            edits = _edits(session, states, commits.get(older), commits[key], shot_path) if older else []
            versions.append(ShotVersion(
                number=len(keys) - position, job_key=key, render_id=latest.render_id, kind=found["kind"],
                finished_at=found["finished_at"], actor=delivery.rendered_by if delivery is not None else None,
                commit_id=commit.id if commit is not None else None,
                commit_reason=commit.reason if commit is not None else None,
                commit_actor=commit.actor if commit is not None else None,
                frames=job.frames if job is not None else len(found["frames"]),
                first_frame=min(found["frames"]) if found["frames"] else 0,
                frame_hashes=_contiguous(found["frames"]), renders=tuple(found["renders"]),
                changed=tuple(edits or job_words(list(changed_job))), changed_job=changed_job,
                backend=json.loads(job.job_json).get("backend") if job is not None else None,
                take=json.loads(job.job_json).get("take") if job is not None else None))
    return versions


def _contiguous(frames: dict[int, str]) -> tuple[str, ...]:
    """The digests from the lowest index up to the first index no render made."""
    if not frames:
        return ()
    index, run = min(frames), []
    while index in frames:
        run.append(frames[index])
        index += 1
    return tuple(run)


def _changed(session, older_key: str, job: JobRecord) -> list[str]:
    return changed_fields(session, older_key, json.loads(job.job_json))


def _edits(session, states: dict[int, dict], older: RenderCommit | None, newer: RenderCommit | None,
           shot_path: str) -> list[str]:
    """What was edited for the shot between the commits two versions were rendered from ([] when unknown)."""
    if older is None or newer is None:
        return []
    for commit_id in (older.commit_id, newer.commit_id):
        if commit_id not in states:
            states[commit_id] = committed_contents(session, commit_id)
    return shot_changes(states[older.commit_id], states[newer.commit_id], shot_path)


def current_version(versions: list[ShotVersion], planned_key: str | None) -> ShotVersion | None:
    """The version a shot stands at: the one its spec plans when rendered (a picked take), else the newest."""
    return next((v for v in versions if v.job_key == planned_key), versions[0] if versions else None)


def default_pair(versions: list[ShotVersion], current: ShotVersion | None = None) -> tuple[ShotVersion, ShotVersion] | None:
    """What a review compares first: B = the current version (default: the newest), A = the newest other one.

    None with fewer than two versions.
    """
    current = current or (versions[0] if versions else None)
    others = [v for v in versions if v is not current]
    return (others[0], current) if current is not None and others else None


# How the job fields a backend does not draw read in a sentence.
UNDRAWN_WORDS = {"prompt": "the prompt", "negative_prompt": "the negative prompt", "language": "the render language",
                 "cast": "the characters' descriptions", "model": "the model settings"}


def why_identical(catalog: Catalog, a: ShotVersion, b: ShotVersion) -> str:
    """Why two versions' frames can be identical, in words: the job fields they differ in and what draws them.

    Said beside an A/B that found no pixel differing, so "identical" never stands alone: two versions
    of a previz shot that differ only in its prompt are the same picture, because previz draws the
    blocking and no words.
    """
    if a.job_key == b.job_key:
        return "A and B are the same version: the same job makes the same frames."
    with catalog.session() as session:
        job = session.get(JobRecord, b.job_key)
        fields = changed_fields(session, a.job_key, json.loads(job.job_json)) if job is not None else []
    names = f"v{a.number} and v{b.number}"
    backend = b.backend or "the backend"
    undrawn = previz.UNDRAWN if backend == "previz" else ()
    if fields and all(name in undrawn for name in fields):
        words = _listed([UNDRAWN_WORDS.get(name, name) for name in fields])
        return (f"{names} differ only in {words}, which previz does not draw: previz draws the blocking (figures, "
                "set, camera, light, look), so this edit changes no pixel here. The prompt shapes the generative "
                "backends only.")
    if fields == ["engine"]:
        return f"{names} differ only in reelforge's render code, which draws this shot the same."
    if not fields:
        return f"{names} differ in nothing recorded that {backend} draws."
    return (f"{names} differ in {_listed(fields)}; this frame comes out the same, other frames may not "
            "(step through them).")


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class FrameComparison:
    """Versions A and B at one frame index: each frame's digest (None where not rendered) and what differs."""

    index: int
    a: str | None
    b: str | None
    summary: str  # DiffStats.summary, or why there is nothing to compare


def compare_at(store: FrameStore, a: ShotVersion, b: ShotVersion, index: int) -> FrameComparison:
    """Two versions of a shot compared at one frame index, never raising: a missing frame is said in the summary."""
    digest_a, digest_b = a.digest_at(index), b.digest_at(index)
    if digest_a is None or digest_b is None:
        which = "version A" if digest_a is None else "version B"
        return FrameComparison(index, digest_a, digest_b, f"{which} has no frame {index}")
    try:
        summary = difference_stats(store, digest_a, digest_b).summary
    except ReviewError as exc:
        summary = str(exc)
    return FrameComparison(index, digest_a, digest_b, summary)


# --------------------------------------------------------------------------- what to play


@dataclass(frozen=True)
class Playable:
    """A delivered file to play for a shot: all of a shot file, or the shot's part of an episode file."""

    render_id: int
    kind: str  # "shot" | "episode"
    path: Path
    job_key: str
    finished_at: str
    start_seconds: float | None = None  # the shot's part of an episode file; None: the whole file
    end_seconds: float | None = None
    fps: int | None = None  # of an episode file: a player stops on the shot's last frame, not the next shot's first

    @property
    def fragment(self) -> str:
        """A media fragment (`#t=START,END`) that makes a browser play just the shot's part."""
        if self.start_seconds is None:
            return ""
        return f"#t={self.start_seconds:.3f},{self.end_seconds:.3f}"


def shot_video(catalog: Catalog, root: Path, shot_path: str, job_key: str | None = None) -> Playable | None:
    """What to play for a shot: its newest whole-shot file, else the newest episode file containing it (MP4 or MOV:
    app/review_media.py says whether a browser can play it).

    Of the version `job_key`, or else of the newest version that still has a playable file. An episode
    file comes with the shot's start and end in seconds, so a page can play just that part.
    """
    query = (select(RenderShot, RenderRecord)
             .join(RenderRecord, RenderRecord.id == RenderShot.render_id)
             .where(RenderShot.shot_path == shot_path, _picture_renders())
             .order_by(RenderShot.render_id.desc()))
    with catalog.session() as session:
        rows = session.execute(query).all()
        keys = [job_key] if job_key is not None else list(dict.fromkeys(row.job_key for row, _ in rows))
        for key in keys:
            of_key = [(row, record) for row, record in rows if row.job_key == key]
            job = session.get(JobRecord, key)
            for row, record in of_key:  # a shot file of the whole shot first
                whole = row.first_frame == 0 and job is not None and row.frame_count == job.frames
                if record.kind == "shot" and whole and (path := _current_file(session, root, record)):
                    return Playable(record.id, "shot", path, key, record.finished_at)
            for row, record in of_key:
                if record.kind == "episode" and (path := _current_file(session, root, record)):
                    fps = json.loads(record.encode_json)["fps"]
                    before = sum(shot.frame_count for shot in record.shots if shot.position < row.position)
                    return Playable(record.id, "episode", path, key, record.finished_at,
                                    start_seconds=before / fps, end_seconds=(before + row.frame_count) / fps, fps=fps)
    return None


@dataclass(frozen=True)
class ShotSpan:
    """A shot's place in an episode file."""

    shot_path: str
    job_key: str
    start_seconds: float
    end_seconds: float
    frames: int


@dataclass(frozen=True)
class EpisodeDelivery:
    """One delivered episode file: the picture, or one of its language deliveries."""

    render_id: int
    path: Path
    finished_at: str
    actor: str | None
    commit_id: int | None
    language: str | None  # None: the picture delivery
    burned_titles: bool
    subtitles: bool  # a WebVTT file of its subtitles can be served (language deliveries without burned titles)
    shots: tuple[ShotSpan, ...]
    encode: EncodeSettings  # what its shots were encoded with (a cut with other settings is another file)


@dataclass(frozen=True)
class EpisodeVideos:
    picture: EpisodeDelivery | None  # the newest picture delivery still on disk
    languages: tuple[EpisodeDelivery, ...]  # its language deliveries still on disk, in language order


def episode_videos(catalog: Catalog, root: Path, episode_id: str) -> EpisodeVideos:
    """The newest delivery of an episode that can be played, and its language deliveries."""
    query = (select(RenderRecord).where(RenderRecord.kind == "episode", RenderRecord.episode_id == episode_id,
                                        _picture_renders())
             .order_by(RenderRecord.id.desc()))
    with catalog.session() as session:
        for record in session.scalars(query).all():
            path = _current_file(session, root, record)
            if path is None:
                continue
            picture = _delivery(session, record, path, None)
            languages = []
            rows = session.scalars(select(LocalizedDelivery).where(LocalizedDelivery.picture_render_id == record.id)
                                   .order_by(LocalizedDelivery.language, LocalizedDelivery.burned_titles))
            for row in rows.all():
                localized = session.get(RenderRecord, row.render_id)
                localized_path = _current_file(session, root, localized)
                if localized_path is not None:
                    languages.append(_delivery(session, localized, localized_path, row))
            return EpisodeVideos(picture, tuple(languages))
    return EpisodeVideos(None, ())


def _delivery(session, record: RenderRecord, path: Path, localized: LocalizedDelivery | None) -> EpisodeDelivery:
    encode = recorded_encode_settings(record.encode_json)
    fps = encode.fps
    spans, start = [], 0
    for shot in record.shots:
        spans.append(ShotSpan(shot.shot_path, shot.job_key, start / fps, (start + shot.frame_count) / fps,
                              shot.frame_count))
        start += shot.frame_count
    delivery = session.get(DeliveryRecord, record.id)
    link = session.get(RenderCommit, record.id)
    return EpisodeDelivery(
        render_id=record.id, path=path, finished_at=record.finished_at,
        actor=delivery.rendered_by if delivery is not None else None,
        commit_id=link.commit_id if link is not None else None,
        language=localized.language if localized is not None else None,
        burned_titles=bool(localized is not None and localized.burned_titles),
        subtitles=localized is not None and not localized.burned_titles, shots=tuple(spans), encode=encode)


def delivered_file(catalog: Catalog, root: Path, render_id: int) -> Path:
    """The file a render delivered, to be served: refused unless it lies inside the production and is current.

    Raises UnknownRender, OutsideProduction (checked first, on the path with symlinks resolved) or
    MediaUnavailable (deleted, or overwritten by a later render to the same path).
    """
    with catalog.session() as session:
        record = session.get(RenderRecord, render_id)
        if record is None:
            raise UnknownRender(f"no render #{render_id} is recorded")
        if inside_production(root, record.output_path) is None:
            raise OutsideProduction(f"render #{render_id} was written outside the production folder: not served")
        path = _current_file(session, root, record)
        if path is None:
            newest = session.scalar(select(func.max(RenderRecord.id))
                                    .where(RenderRecord.output_path == record.output_path))
            if newest != render_id:
                raise MediaUnavailable(f"render #{render_id}'s file was replaced by render #{newest}")
            raise MediaUnavailable(f"render #{render_id}'s file {Path(record.output_path).name} is no longer on disk")
        return path


def subtitles_file(catalog: Catalog, root: Path, render_id: int) -> Path:
    """The WebVTT subtitles written beside a language delivery, checked against the hash recorded for them."""
    delivered_file(catalog, root, render_id)  # the delivery itself must be servable
    with catalog.session() as session:
        localized = session.get(LocalizedDelivery, render_id)
        if localized is None or localized.burned_titles:
            raise UnknownRender(f"render #{render_id} is not a language delivery with subtitles")
        picture = Path(session.get(RenderRecord, localized.picture_render_id).output_path)
    vtt = inside_production(root, language_output(picture, localized.language, ".vtt"))
    if vtt is None:
        raise OutsideProduction(f"the subtitles of render #{render_id} lie outside the production folder")
    if not vtt.is_file() or file_sha256(vtt) != localized.webvtt_sha256:
        raise MediaUnavailable(f"the subtitles of render #{render_id} are gone or were rewritten since")
    return vtt


# --------------------------------------------------------------------------- frames


def check_digest(digest: str) -> str:
    """A frame digest (64 lower-case hex digits), or UnknownFrame: anything else never reaches the disk."""
    if not DIGEST.fullmatch(digest):
        raise UnknownFrame(f"{digest[:80]!r} is not a frame digest (64 lower-case hex digits)")
    return digest


def load_frame(store: FrameStore, digest: str) -> np.ndarray:
    """A stored frame's pixels (H × W × 3, uint8), checked against its hash; UnknownFrame if absent or damaged."""
    check_digest(digest)
    if not store.has(digest):
        raise UnknownFrame(f"frame {digest[:12]}… is not in the frame store")
    try:
        return store.get(digest)
    except FileNotFoundError:
        raise UnknownFrame(f"frame {digest[:12]}… is not in the frame store") from None
    except CorruptFrame as exc:  # the store removed it: render the shot again to get it back
        raise UnknownFrame(f"{exc}; it was removed: render the shot again") from None
    except OSError as exc:  # a folder where the file should be, a permission changed by hand
        raise UnknownFrame(f"frame {digest[:12]}… cannot be read ({exc.strerror or exc})") from None


def parse_width(text: str | None) -> int | None:
    """A requested width from text (a URL's ?width=): ASCII digits, above 0; None when not given.

    Any length of digits is read (past MAX_WIDTH it is MAX_WIDTH): int() of thousands of digits would raise.
    """
    if text is None or text == "":
        return None
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit() and digits):
        raise BadWidth(f"width must be a positive whole number of pixels, got {text[:20]!r}")
    return int(digits) if len(digits) <= len(str(MAX_WIDTH)) else MAX_WIDTH


def clamp_width(width: int | None) -> int | None:
    return None if width is None else min(MAX_WIDTH, max(MIN_WIDTH, width))


def png_bytes(pixels: np.ndarray, width: int | None = None) -> bytes:
    """PNG of an RGB image, scaled down to `width` (clamped, never up) keeping the aspect ratio."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    width = clamp_width(width)
    if width is not None and width < image.width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def frame_png(store: FrameStore, digest: str, width: int | None = None) -> bytes:
    """A stored frame as PNG: at full size its pixels are exactly the stored ones."""
    return png_bytes(load_frame(store, digest), width)


@dataclass(frozen=True)
class DiffStats:
    """Exact, integer statistics of two frames' difference (no tolerance: one differing bit differs)."""

    pixels_differing: int  # pixels where any channel differs
    max_abs: int  # the largest absolute difference of one channel, 0–255
    pixels: int  # pixels in a frame

    @property
    def identical(self) -> bool:
        return self.pixels_differing == 0

    @property
    def summary(self) -> str:
        if self.identical:
            return "identical"
        noun = "pixel differs" if self.pixels_differing == 1 else "pixels differ"
        return f"{self.pixels_differing} {noun}, max difference {self.max_abs}"

    def to_json(self) -> dict:
        return {"identical": self.identical, "pixels_differing": self.pixels_differing, "max_abs": self.max_abs,
                "pixels": self.pixels, "summary": self.summary}


def _difference(store: FrameStore, a: str, b: str) -> tuple[np.ndarray, np.ndarray, DiffStats]:
    """Frame B and the per-pixel largest channel difference |A − B|, with their statistics."""
    frame_a, frame_b = load_frame(store, a), load_frame(store, b)
    if frame_a.shape != frame_b.shape:
        (ha, wa), (hb, wb) = frame_a.shape[:2], frame_b.shape[:2]
        raise FrameSizeMismatch(f"the frames differ in size ({wa}×{ha} and {wb}×{hb}): no pixel difference")
    per_pixel = np.abs(frame_a.astype(np.int16) - frame_b.astype(np.int16)).max(axis=2)
    stats = DiffStats(pixels_differing=int(np.count_nonzero(per_pixel)), max_abs=int(per_pixel.max()),
                      pixels=int(per_pixel.size))
    return frame_b, per_pixel, stats


def difference_stats(store: FrameStore, a: str, b: str) -> DiffStats:
    """How two stored frames differ, exactly."""
    return _difference(store, a, b)[2]


def frame_difference(store: FrameStore, a: str, b: str, width: int | None = None) -> tuple[bytes, DiffStats]:
    """The difference of two stored frames as a PNG amplified to be seen, and its exact statistics.

    Unchanged pixels show frame B dimmed to gray (for context); a changed pixel is red, its
    brightness scaled to the largest difference and never below half, so a change of one level
    is as plain to see as a large one. The statistics are computed on the stored pixels.
    """
    frame_b, per_pixel, stats = _difference(store, a, b)
    context = (frame_b.astype(np.uint16).sum(axis=2) // 10).astype(np.uint8)  # ≤ 76: a dim gray picture
    image = np.repeat(context[:, :, None], 3, axis=2)
    if not stats.identical:
        changed = per_pixel > 0
        level = 128 + (127 * per_pixel[changed].astype(np.int32)) // stats.max_abs
        image[changed] = 0
        image[changed, 0] = level.astype(np.uint8)
    return png_bytes(image, width), stats
