"""What the review player plays: each version's media, and a shot between its neighbours in the cut.

A version plays from a file when one still holds it (a shot file, or the shot's part of an episode
file: `review.shot_video` decides, with the same rules as the review page's video) and browsers can
decode it (8-bit 4:2:0 H.264: a ProRes, DNxHR, HEVC, 10-bit or 4:2:2/4:4:4 main delivery plays its
stored frames instead); an older version
whose file was overwritten still has its frames in the store, so it plays as a sequence of stored
frames; a version with neither says so. Every answer carries the fps and canvas the version was
rendered at, so a player seeks to frame i at start + (i + 0.5) / fps: the middle of the frame, never
its edge, where a rounding would show the frame before.

The hook-up view plays the shot between the one before and the one after it in the episode's cut
(the spec's order, as an episode file assembles them), each from its newest version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reelforge.app import review
from reelforge.app.status import ProductionStatus
from reelforge.engine.record import recorded_encode_settings
from reelforge.spec.formats import FORMATS
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.schema import JobRecord, RenderRecord

VIDEO, FRAMES, NONE = "video", "frames", "none"
PREVIOUS, CURRENT, NEXT = "previous", "current", "next"


@dataclass(frozen=True)
class Media:
    """How a player shows one version of a shot: a video (or a time range of one), stored frames, or nothing."""

    kind: str  # VIDEO | FRAMES | NONE
    frames: int  # the version's length in frames
    fps: int
    width: int  # the delivered canvas, so both sides of a comparison get the same frame area
    height: int
    note: str  # where the pictures come from, in plain words (or why there are none)
    render_id: int | None = None  # VIDEO: the render whose file plays (/media/<id>)
    start_seconds: float = 0.0  # VIDEO: the shot's first frame in the file
    end_seconds: float | None = None  # VIDEO: the end of the shot's last frame (None: the file's end)
    digests: tuple[str | None, ...] = ()  # the stored frame at each index (None: not rendered): FRAMES plays them,
    # and every kind uses them for the exact difference of two versions at a paused frame

    def to_json(self) -> dict:
        found = {"kind": self.kind, "frames": self.frames, "fps": self.fps, "width": self.width,
                 "height": self.height, "note": self.note, "digests": list(self.digests)}
        if self.kind == VIDEO:
            found.update(src=f"/media/{self.render_id}", render_id=self.render_id, start=self.start_seconds,
                         end=self.end_seconds)
        return found


def version_media(catalog: Catalog, root: Path, store: FrameStore, shot_path: str,
                  version: review.ShotVersion) -> Media:
    """What plays for one version: its file if one still holds it, else its stored frames, else nothing."""
    fps, width, height = _job_picture(catalog, version.job_key)
    digests = tuple(version.frames_by_index())
    length = len(digests)
    video = review.shot_video(catalog, root, shot_path, version.job_key)
    unplayable = _not_for_browsers(catalog, video.render_id) if video is not None else None
    if video is not None and unplayable is None:
        encoded_fps = video.fps or _encoded_fps(catalog, video.render_id) or fps
        where = (f"shot file of render #{video.render_id}" if video.kind == "shot"
                 else f"its part of the episode file of render #{video.render_id}")
        return Media(VIDEO, length, encoded_fps, width, height, f"v{version.number}: {where}",
                     render_id=video.render_id, start_seconds=video.start_seconds or 0.0,
                     end_seconds=video.end_seconds, digests=digests)
    stored = [digest for digest in digests if digest is not None and store.has(digest)]
    if stored:
        why = (f"its file is {unplayable}, which browsers cannot play" if unplayable is not None
               else "has no video file any more (a later render replaced it)")
        return Media(FRAMES, length, fps, width, height,
                     f"v{version.number} {why}: playing its {len(stored)} stored frames", digests=digests)
    return Media(NONE, length, fps, width, height,
                 f"v{version.number} has no playable file and no stored frames: render it again to see it",
                 digests=digests)


def _job_picture(catalog: Catalog, job_key: str) -> tuple[int, int, int]:
    """The fps and delivered canvas a job was rendered at."""
    with catalog.session() as session:
        job = json.loads(session.get(JobRecord, job_key).job_json)
    return job["fps"], job["canvas_width"], job["canvas_height"]


def _not_for_browsers(catalog: Catalog, render_id: int) -> str | None:
    """None when browsers play the render's file (8-bit 4:2:0 H.264); else what it is ('Apple ProRes 422 HQ
    10-bit 4:2:2'). HEVC counts as unplayable: Chromium plays it only where the system decodes it."""
    with catalog.session() as session:
        record = session.get(RenderRecord, render_id)
        encode_json = record.encode_json if record is not None else None
    if encode_json is None:
        return None
    settings = recorded_encode_settings(encode_json)
    if (settings.format, settings.bit_depth, settings.chroma) == ("h264", 8, "4:2:0"):
        return None
    return f"{FORMATS[settings.format].label} {settings.bit_depth}-bit {settings.chroma}"


def _encoded_fps(catalog: Catalog, render_id: int) -> int | None:
    with catalog.session() as session:
        record = session.get(RenderRecord, render_id)
        return json.loads(record.encode_json).get("fps") if record is not None else None


@dataclass(frozen=True)
class VersionPlayback:
    key: str
    number: int
    label: str
    media: Media

    def to_json(self) -> dict:
        return {"key": self.key, "number": self.number, "label": self.label, "media": self.media.to_json()}


def shot_playback(catalog: Catalog, root: Path, store: FrameStore, shot_path: str,
                  planned_key: str | None = None) -> tuple[list[VersionPlayback], tuple[str, str] | None]:
    """Every version of a shot, newest first, with what plays for it; and the keys of the A/B the review
    page pairs first (B the current version, A the newest other one; one version: itself twice)."""
    versions = review.shot_versions(catalog, shot_path)
    played = [VersionPlayback(v.job_key, v.number, v.label, version_media(catalog, root, store, shot_path, v))
              for v in versions]
    current = review.current_version(versions, planned_key)
    pair = review.default_pair(versions, current)
    keys = (pair[0].job_key, pair[1].job_key) if pair else (current.job_key, current.job_key) if current else None
    return played, keys


@dataclass(frozen=True)
class HookupShot:
    """One place in the hook-up: the shot before, this shot, or the one after (shot None: there is none)."""

    role: str  # PREVIOUS | CURRENT | NEXT
    shot: str | None
    version: int | None  # the version number that plays
    media: Media | None
    note: str

    def to_json(self) -> dict:
        return {"role": self.role, "shot": self.shot, "version": self.version,
                "media": self.media.to_json() if self.media is not None else None, "note": self.note}


def hookup(catalog: Catalog | None, root: Path, store: FrameStore, status: ProductionStatus,
           shot_path: str) -> tuple[HookupShot, HookupShot, HookupShot] | None:
    """The shot before, this shot and the shot after in its episode's cut order; None for a shot not in the spec."""
    episode = next((e for e in status.episodes if any(s.path == shot_path for s in e.shots())), None)
    if episode is None:
        return None
    order = [shot.path for shot in episode.shots()]
    at = order.index(shot_path)
    neighbours = {PREVIOUS: order[at - 1] if at > 0 else None, CURRENT: shot_path,
                  NEXT: order[at + 1] if at + 1 < len(order) else None}
    places = []
    for role, path in neighbours.items():
        if path is None:
            edge = "first" if role == PREVIOUS else "last"
            places.append(HookupShot(role, None, None, None, f"this is the {edge} shot of {episode.id}"))
        else:
            shot = status.shot(path)
            places.append(_as_it_stands(catalog, root, store, role, path, shot.job_key if shot else None))
    return tuple(places)


def _as_it_stands(catalog: Catalog | None, root: Path, store: FrameStore, role: str, path: str,
                  planned_key: str | None) -> HookupShot:
    """A shot's current version as it plays (the spec's, e.g. a picked take; else the newest); another
    version's file only when the current one shows nothing."""
    versions = review.shot_versions(catalog, path) if catalog is not None else []
    current = review.current_version(versions, planned_key)
    if current is None:
        return HookupShot(role, path, None, None, f"{path} has not been rendered yet")
    media = version_media(catalog, root, store, path, current)
    if media.kind != NONE:
        return HookupShot(role, path, current.number, media, media.note)
    for other in versions:
        found = version_media(catalog, root, store, path, other) if other is not current else media
        if found.kind != NONE:
            return HookupShot(role, path, other.number, found,
                              f"the current version (v{current.number}) cannot be shown: {found.note}")
    return HookupShot(role, path, current.number, None, media.note)
