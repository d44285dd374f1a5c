"""OpenTimelineIO export: an episode's latest render as a timeline an editor opens in their NLE.

One video track; one clip per shot, in playback order, each pointing at the delivered file with
the shot's range inside it (the file holds the whole episode: the clips are its cut list). That file
is the episode's master when one was delivered for this cut (a ProRes or DNxHR render, the main
delivery or a named one such as `renders/master/s01e01.mov`: what an editor grades from), else the
main delivery (or, with a language, that language's delivery). Media links are relative to the .otio
file's folder (`master/s01e01.mov`), so a timeline kept inside the production survives moving or
copying the production folder; the clip metadata names the linked file's codec, depth and chroma.
A marker at each scene start named with the scene's title; and under the `reelforge` metadata
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
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from reelforge.records.versions import render_versions, state_at
from reelforge.spec.base import text_in
from reelforge.spec.delivery import FORMATS
from reelforge.spec.model import Production
from reelforge.store.catalog import MAIN, Catalog, main_delivery, main_picture
from reelforge.store.schema import DeliveryRecord, LocalizedDelivery, RenderRecord

NAMESPACE = "reelforge"
# Renders of named extra deliveries (store/schema.py NamedDeliveryRecord), by name: read through a bare table
# so that a catalog from before named deliveries (no such table: every render was of the main one) reads too.
class ExportError(Exception):
    """Nothing to export (no such episode render, no such language delivery): a user-facing message."""


@dataclass(frozen=True)
class SceneInfo:
    title: str
    brief: str
    version: str | None  # scene:<ep>/<sc>@N, when the render is linked to a commit


def latest_picture_render(catalog: Catalog, episode_id: str) -> RenderRecord | None:
    """The newest episode render of `episode_id` that is the main delivery's picture (not a language
    delivery, not a named extra delivery)."""
    with catalog.session() as session:
        query = (select(RenderRecord)
                 .where(RenderRecord.kind == "episode", RenderRecord.episode_id == episode_id, main_picture())
                 .order_by(RenderRecord.id.desc()))
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
        for row in session.scalars(query.where(main_delivery(LocalizedDelivery.render_id))):
            # (a named delivery's language files carry its picture, not the main one)
            if row.picture_render_id == picture_id or (wanted[0] is not None
                                                       and cut(session, row.picture_render_id) == wanted):
                return session.get(RenderRecord, row.render_id)
    return None


def on_disk(recorded: str, home: Path, renders: Path | None) -> Path:
    """Where a recorded delivery is now. The catalog keeps absolute paths; a production that was moved or
    copied (to a farm, from a backup) has the file at the same place under its own `renders` folder
    (`home`: the folder the main delivery was recorded in, so `master/s01e01.mov` stays in `master/`)."""
    path = Path(recorded)
    if renders is not None:
        inside = path.relative_to(home) if path.is_relative_to(home) else Path(path.name)
        if (renders / inside).is_file():
            return (renders / inside).absolute()
    return path


def _shots(record: RenderRecord) -> list[tuple]:
    """A render's cut: its shots, their jobs, ranges and frames, in order."""
    return [(shot.shot_path, shot.job_key, shot.first_frame, shot.frame_count, shot.frame_hashes_json)
            for shot in record.shots]


def delivered_master(catalog: Catalog, picture: RenderRecord, renders: Path | None) -> tuple[RenderRecord, Path] | None:
    """The newest master (a FORMATS[...].master render: ProRes, DNxHR) of `picture`'s cut still on disk, and where.

    A master is the main delivery itself or a named one (`renders/master/s01e01.mov`); it carries the cut when
    it has the main delivery's canvas and fps and the same shots, jobs and frames. A file holds what the
    newest render of its path wrote, so an older render of that path never counts, even of this cut.
    """
    encode = json.loads(picture.encode_json)
    frame = (encode["width"], encode["height"], encode["fps"])
    home = Path(picture.output_path).parent
    wanted = _shots(picture)
    query = (select(RenderRecord)
             .where(RenderRecord.kind == "episode", RenderRecord.episode_id == picture.episode_id,
                    RenderRecord.id.not_in(select(LocalizedDelivery.render_id)))
             .order_by(RenderRecord.id.desc()))
    with catalog.session() as session:
        seen: set[Path] = set()
        for record in session.scalars(query):
            path = on_disk(record.output_path, home, renders)
            if path in seen:
                continue
            seen.add(path)
            settings = json.loads(record.encode_json)
            known = FORMATS.get(settings.get("format", "h264"))
            if (known is None or not known.master or (settings["width"], settings["height"], settings["fps"]) != frame
                    or not path.is_file()):
                continue
            if _shots(record) == wanted:
                return record, path
    return None


def media_info(catalog: Catalog, record: RenderRecord) -> dict:
    """What a linked file holds, for the timeline and each clip: its render, delivery, codec, depth, chroma, size."""
    settings = json.loads(record.encode_json)
    name = settings.get("format", "h264")  # renders recorded before formats existed were H.264 8-bit 4:2:0
    known = FORMATS[name]
    delivery = catalog.delivery_name(record.id) or MAIN
    return {"render_id": record.id, "delivery": delivery, "format": name, "codec": known.codec,
            "codec_label": known.label, "master": known.master, "container": known.container,
            "bit_depth": settings.get("bit_depth", 8), "chroma": settings.get("chroma", "4:2:0"),
            "width": settings["width"], "height": settings["height"], "frames": record.frames,
            "sha256": record.output_sha256}


def media_link(path: Path, folder: Path) -> str:
    """`path` as a URL relative to `folder` (OTIO's form for a relative path: `master/s01e01.mov`, `../renders/…`).

    An absolute `file://` URL breaks when the production moves; a relative one holds for a timeline kept inside
    the production, and an NLE resolves it against the .otio file's folder.
    """
    import opentimelineio as otio  # deferred: as in build_timeline

    return otio.url_utils.url_from_filepath(Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix())


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
                   renders: Path | None = None, folder: Path | None = None):
    """The OTIO timeline of the latest render of an episode (or of its `language` delivery).

    Clips link to the cut's master when one is on disk (not for a language: its own file), else to the
    delivered file, relative to `folder`, where the .otio file goes (default: beside the delivered file,
    where `export otio` writes it). `renders` is the production's renders folder: a production that was
    copied or moved links to its own files (`on_disk`).
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

    output = on_disk(record.output_path, Path(picture.output_path).parent, renders)
    linked, media = record, output
    if language is None:
        master = delivered_master(catalog, picture, renders)
        if master is not None:
            linked, media = master
            with catalog.session() as session:
                linked = session.get(RenderRecord, linked.id)
                _ = linked.shots
    link = media_link(media, folder if folder is not None else output.parent)
    info = media_info(catalog, linked)
    segments = {shot.position: shot.segment_sha256 for shot in linked.shots}
    episode_name = f"{episode_id}" + (f".{language}" if language else "")
    timeline = otio.schema.Timeline(name=episode_name, global_start_time=at(0))
    timeline.metadata[NAMESPACE] = {
        "render_id": record.id, "picture_render_id": _picture_of(catalog, record.id) if language else picture.id, "episode": episode_id, "language": language,
        "output": str(output), "output_sha256": record.output_sha256, "media": {**info, "target_url": link},
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
        reference = otio.schema.ExternalReference(target_url=link, available_range=span(0, linked.frames))
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
            "media": {**info, "segment_sha256": segments.get(shot.position)},  # the linked file and this shot in it
        }
        track.append(clip)
        position += shot.frame_count
    return timeline


def timeline_json(timeline) -> str:
    """The timeline as an .otio file's text (OTIO's own JSON)."""
    import opentimelineio as otio  # deferred: as in build_timeline

    return otio.adapters.write_to_string(timeline, "otio_json") + "\n"
