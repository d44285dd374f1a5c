"""OpenTimelineIO export: an episode's latest render as a timeline an editor opens in their NLE.

One video track; one clip per shot, in playback order, each pointing at the delivered MP4 with
the shot's range inside it (the file holds the whole episode: the clips are its cut list);
a marker at each scene start named with the scene's title; and under the `reelforge` metadata
key (OTIO's convention: one namespace per tool) everything needed to trace or re-render a shot —
job key, seed, backend, checkpoint hash, frame count and first frame, render id, segment hash,
and, when the render is linked to a commit (records/versions.py), the exact entity versions and
assets it used.

Everything comes from the catalog, not from today's spec: scene titles and briefs are read from
the scene versions of the render's commit; only renders made before commits existed fall back
to the spec (then scene ids where the spec no longer has the scene).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from reelforge.records.versions import render_versions, state_at
from reelforge.spec.base import text_in
from reelforge.spec.model import Production
from reelforge.store.catalog import Catalog
from reelforge.store.schema import DeliveryRecord, LocalizedDelivery, RenderRecord

NAMESPACE = "reelforge"


class ExportError(Exception):
    """Nothing to export (no such episode render, no such language delivery): a user-facing message."""


@dataclass(frozen=True)
class SceneInfo:
    title: str
    brief: str
    version: str | None  # scene:<ep>/<sc>@N, when the render is linked to a commit


def latest_picture_render(catalog: Catalog, episode_id: str) -> RenderRecord | None:
    """The newest episode render of `episode_id` that is a picture delivery (not a language delivery)."""
    query = (select(RenderRecord)
             .where(RenderRecord.kind == "episode", RenderRecord.episode_id == episode_id,
                    RenderRecord.id.not_in(select(LocalizedDelivery.render_id)))
             .order_by(RenderRecord.id.desc()))
    with catalog.session() as session:
        record = session.scalars(query).first()
        if record is not None:
            _ = record.shots  # load before the session closes
        return record


def language_delivery(catalog: Catalog, picture_id: int, language: str) -> RenderRecord | None:
    """The newest `language` delivery (its text-track one, not burned titles) that carries render `picture_id`'s cut.

    Languages are delivered one at a time (`render --languages de` after `fr`), and each such render records a
    new picture render of the same cut: a language delivery made with an earlier render counts when that
    render's unsigned picture is byte for byte this one's and made from the same jobs (shot by shot).
    """
    def cut(session, render_id: int) -> tuple:
        delivery = session.get(DeliveryRecord, render_id)
        render = session.get(RenderRecord, render_id)
        return (delivery.unsigned_sha256 if delivery else None,
                [(shot.shot_path, shot.job_key, shot.frame_count) for shot in render.shots])

    query = (select(LocalizedDelivery)
             .where(LocalizedDelivery.language == language, LocalizedDelivery.burned_titles.is_(False))
             .order_by(LocalizedDelivery.render_id.desc()))
    with catalog.session() as session:
        wanted = cut(session, picture_id)
        for row in session.scalars(query):
            if row.picture_render_id == picture_id or (wanted[0] is not None
                                                       and cut(session, row.picture_render_id) == wanted):
                return session.get(RenderRecord, row.render_id)
    return None


def _picture_of(catalog: Catalog, render_id: int) -> int:
    """The picture render a language delivery carries."""
    with catalog.session() as session:
        return session.get(LocalizedDelivery, render_id).picture_render_id


def _text(value, language: str | None, source: str | None) -> str:
    if value is None:
        return ""
    return text_in(value, language or source or "", source or "")


def _default_language() -> str:
    return Production.model_fields["language"].default


def _scene_info(catalog: Catalog, record: RenderRecord, versions: dict, production,
                language: str | None) -> dict[str, SceneInfo]:
    """scene path (`s01e01/sc01`) → title, brief, version: from the render's commit, else from the spec."""
    scenes = list(dict.fromkeys(shot.shot_path.rsplit("/", 1)[0] for shot in record.shots))
    found: dict[str, SceneInfo] = {}
    if versions.get("commit"):
        with catalog.session() as session:
            live = state_at(session, versions["commit"]["commit"], kinds=("scene", "series"))
            series = next((row.content for name, row in live.items() if name.startswith("series:")), {}) or {}
            source = series.get("language", _default_language())
            for path in scenes:
                row = live.get(f"scene:{path}")
                if row is not None:
                    content = row.content or {}
                    found[path] = SceneInfo(_text(content.get("title"), language, source),
                                            _text(content.get("brief"), language, source),
                                            f"scene:{path}@{row.version}")
    if production is not None:
        for path in scenes:
            if path in found:
                continue
            episode_id, scene_id = path.split("/")
            episode = next((e for e in production.episodes if e.id == episode_id), None)
            scene = next((s for s in episode.scenes if s.id == scene_id), None) if episode else None
            if scene is not None:
                found[path] = SceneInfo(_text(scene.title, language, production.language),
                                        _text(scene.brief, language, production.language), None)
    return found


def build_timeline(catalog: Catalog, episode_id: str, production=None, language: str | None = None,
                   renders: Path | None = None):
    """The OTIO timeline of the latest render of an episode (or of its `language` delivery).

    `renders` is the production's renders folder: the catalog records absolute paths, so a production
    that was copied or moved (to a farm, from a backup) points its clips at its own file of that name.
    """
    import opentimelineio as otio  # deferred: ~0.1 s to load, and only this command needs it

    picture = latest_picture_render(catalog, episode_id)
    if picture is None:
        raise ExportError(f"no render of episode '{episode_id}' is recorded; render it first")
    record = picture
    if language is not None:
        record = language_delivery(catalog, picture.id, language)
        if record is None:
            raise ExportError(f"render #{picture.id} of {episode_id} has no '{language}' delivery; render it with "
                              f"--languages {language}")
        with catalog.session() as session:
            record = session.get(RenderRecord, record.id)
            _ = record.shots
    encode = json.loads(record.encode_json)
    fps = encode["fps"]
    versions = render_versions(catalog, record.id)
    by_position = {i: row for i, row in enumerate(versions["shots"])}
    scenes = _scene_info(catalog, record, versions, production, language)
    delivery = catalog.delivery(record.id)

    def at(frame: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frame, fps)

    def span(start: int, frames: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(start_time=at(start), duration=at(frames))

    media = Path(record.output_path)
    if renders is not None and (renders / media.name).is_file():
        media = (renders / media.name).absolute()
    episode_name = f"{episode_id}" + (f".{language}" if language else "")
    timeline = otio.schema.Timeline(name=episode_name, global_start_time=at(0))
    timeline.metadata[NAMESPACE] = {
        "render_id": record.id, "picture_render_id": _picture_of(catalog, record.id) if language else picture.id, "episode": episode_id, "language": language,
        "output": str(media), "output_sha256": record.output_sha256,
        "unsigned_sha256": delivery.unsigned_sha256 if delivery else None,
        "rendered_at": record.started_at, "rendered_by": delivery.rendered_by if delivery else None,
        "frames": record.frames, "fps": fps, "encode": encode,
        "commit": versions.get("commit"),
    }
    track = otio.schema.Track(name="picture", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    position = 0
    current_scene = None
    for shot in record.shots:
        job = catalog.job(shot.job_key)
        scene_path = shot.shot_path.rsplit("/", 1)[0]
        scene = scenes.get(scene_path, SceneInfo("", "", None))
        if scene_path != current_scene:
            current_scene = scene_path
            marker = otio.schema.Marker(name=scene.title or scene_path.split("/")[1], marked_range=span(position, 0),
                                        color=otio.schema.MarkerColor.GREEN)
            marker.metadata[NAMESPACE] = {"scene": scene_path, "title": scene.title, "brief": scene.brief,
                                          "version": scene.version}
            track.markers.append(marker)
        row = by_position.get(shot.position, {})
        reference = otio.schema.ExternalReference(target_url=media.as_uri(), available_range=span(0, record.frames))
        clip = otio.schema.Clip(name=shot.shot_path, media_reference=reference,
                                source_range=span(position, shot.frame_count))
        model = job.get("model") or {}
        clip.metadata[NAMESPACE] = {
            "shot": shot.shot_path, "scene": scene_path, "scene_title": scene.title,
            "job_key": shot.job_key, "seed": str(job["seed"]), "backend": job["backend"],
            "checkpoint_sha256": model.get("checkpoint_sha256"), "engine": job["engine"],
            "frames": shot.frame_count, "first_frame": shot.first_frame, "render_id": record.id,
            "segment_sha256": shot.segment_sha256, "reused": bool(shot.reused), "prompt": job["prompt"],
            "versions": row.get("versions", []), "assets": row.get("assets", []),
        }
        track.append(clip)
        position += shot.frame_count
    return timeline


def timeline_json(timeline) -> str:
    """The timeline as an .otio file's text (OTIO's own JSON)."""
    import opentimelineio as otio  # deferred: as in build_timeline

    return otio.adapters.write_to_string(timeline, "otio_json") + "\n"
