"""Watching and comparing renders: the shot review page, the episode page, and the files they show.

Everything here is found by an id the catalog knows (a render id) or a content hash the frame
store knows (a frame digest); the library (reelforge.app.review) checks that every file it hands out
lies inside the production folder. The routes only parse the request and pick a template.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from reelforge.app import review
from reelforge.app.render_request import RenderRefused
from reelforge.app.review_status import reviews_for_spec
from reelforge.app.status import production_status
from reelforge.app.timeline import episode_timeline
from reelforge.store.catalog import existing_catalog
from reelforge.store.frames import FrameStore
from reelforge.studio.pages import check_id, page, shot_path, studio

router = APIRouter()

RENDER_ID = re.compile(r"[1-9][0-9]{0,17}")
# A frame or a difference is named by the content it shows: the browser may keep it for good.
IMMUTABLE = {"cache-control": "private, max-age=31536000, immutable"}
WHY_VERSIONS = 12  # the newest versions whose A/B pairs get an explanation of "identical" (12² sentences at most)
STATUS = {review.UnknownFrame: 404, review.UnknownRender: 404, review.MediaUnavailable: 410,
          review.OutsideProduction: 403, review.FrameSizeMismatch: 409, review.BadWidth: 400}


def _spec(request: Request) -> Path:
    return studio(request).spec


def _store(request: Request) -> FrameStore:
    return FrameStore(studio(request).paths.frames)


def _refuse(exc: review.ReviewError) -> HTTPException:
    return HTTPException(status_code=STATUS.get(type(exc), 400), detail=str(exc))


def _digest(value: str) -> str:
    """A digest from the URL, or 404 before anything is looked up on disk."""
    try:
        return review.check_digest(value)
    except review.UnknownFrame as exc:
        raise _refuse(exc) from None


def _render_id(value: str) -> int:
    if not RENDER_ID.fullmatch(value):
        raise HTTPException(status_code=404, detail=f"no such render: {value[:40]!r}")
    return int(value)


def _width(value: str | None) -> int | None:
    """?width= as a positive integer (clamped by the library), or 400 naming the parameter."""
    try:
        return review.parse_width(value)
    except review.BadWidth as exc:
        raise _refuse(exc) from None


def _status(spec: Path):
    """The production's status, or None while the spec does not load (the page then shows the catalog only)."""
    try:
        return production_status(spec)
    except RenderRefused:
        return None


# --------------------------------------------------------------------------- pages


@router.get("/shots/{episode}/{scene}/{shot}/review")
def shot_review(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    """Video, frame stepper and A/B comparison of one shot's versions."""
    path = shot_path(episode, scene, shot)
    spec = _spec(request)
    status = _status(spec)
    shot_status = status.shot(path) if status is not None else None
    with existing_catalog(studio(request).paths.catalog) as catalog:
        versions = review.shot_versions(catalog, path) if catalog is not None else []
        # what the spec renders now (the take it picked, say) where it has a file, else the newest that has one
        video = ((shot_status is not None and review.shot_video(catalog, spec.parent, path, shot_status.job_key))
                 or review.shot_video(catalog, spec.parent, path)) if catalog is not None else None
        why = {a.job_key: {b.job_key: review.why_identical(catalog, a, b) for b in versions[:WHY_VERSIONS]}
               for a in versions[:WHY_VERSIONS]}
    if shot_status is None and not versions:
        raise HTTPException(status_code=404, detail=f"no such shot: {path}")
    current = review.current_version(versions, shot_status.job_key if shot_status is not None else None)
    pair = review.default_pair(versions, current)
    first = review.compare_at(_store(request), pair[0], pair[1], 0) if pair is not None else None
    backend = shot_status.backend if shot_status is not None else versions[0].backend if versions else None
    return page(request, "review_shot.html", path=path, episode=episode, scene=scene, shot=shot,
                status=shot_status, versions=versions, current=current, video=video, pair=pair, first=first, why=why, backend=backend,
                versions_json=[{"key": v.job_key, "number": v.number, "label": v.label,
                                "frames": v.frames_by_index()} for v in versions])


@router.get("/episodes/{episode}")
def episode_page(request: Request, episode: str) -> HTMLResponse:
    """The episode's newest delivery, its language deliveries, and its shots linking to their reviews."""
    episode = check_id(episode, "episode")
    spec = _spec(request)
    status = _status(spec)
    spec_episode = next((e for e in status.episodes if e.id == episode), None) if status is not None else None
    with existing_catalog(studio(request).paths.catalog) as catalog:
        videos = review.episode_videos(catalog, spec.parent, episode) if catalog is not None else None
    if spec_episode is None and (videos is None or videos.picture is None):
        raise HTTPException(status_code=404, detail=f"no such episode: {episode}")
    spans = {span.shot_path: span for span in videos.picture.shots} if videos and videos.picture else {}
    planned = {shot.path: shot.job_key for shot in spec_episode.shots()} if spec_episode is not None else None
    reviews = reviews_for_spec(spec, planned)
    cut = spec_episode.cut if spec_episode is not None else None
    timeline = episode_timeline(spec_episode, cut, reviews) if cut is not None else []
    return page(request, "review_episode.html", episode_id=episode, episode=spec_episode, videos=videos,
                spans=spans, reviews=reviews, cut=cut, timeline=timeline)


# --------------------------------------------------------------------------- files


def _recorded_file(request: Request, render_id: str, find) -> Path:
    """The file `find(catalog, root, number)` gives for a render id, or the refusal as an HTTP error."""
    number = _render_id(render_id)
    spec = _spec(request)
    with existing_catalog(studio(request).paths.catalog) as catalog:
        if catalog is None:
            raise HTTPException(status_code=404, detail=f"no render #{number} is recorded")
        try:
            return find(catalog, spec.parent, number)
        except review.ReviewError as exc:
            raise _refuse(exc) from None


VIDEO_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime"}  # by the delivered file's container


@router.get("/media/{render_id}")
def media(request: Request, render_id: str) -> FileResponse:
    """A delivered video by catalog render id (Range requests give 206: the player seeks without downloading),
    typed by its container: a master's MOV is video/quicktime."""
    path = _recorded_file(request, render_id, review.delivered_file)
    return FileResponse(path, media_type=VIDEO_TYPES.get(path.suffix.lower(), "video/mp4"),
                        headers={"cache-control": "private, no-cache"})


@router.get("/media/{render_id}/subtitles.vtt")
def subtitles(request: Request, render_id: str) -> FileResponse:
    """The WebVTT subtitles of a language delivery, for the player's <track>."""
    path = _recorded_file(request, render_id, review.subtitles_file)
    return FileResponse(path, media_type="text/vtt", headers={"cache-control": "private, no-cache"})


@router.get("/frames/{digest}.png")
def frame(request: Request, digest: str, width: str | None = None) -> Response:
    """A stored frame by content hash: at full size, exactly the stored pixels."""
    digest = _digest(digest)
    try:
        data = review.frame_png(_store(request), digest, _width(width))
    except review.ReviewError as exc:
        raise _refuse(exc) from None
    return Response(data, media_type="image/png", headers=IMMUTABLE)


@router.get("/diff/{a}/{b}.png")
def difference_image(request: Request, a: str, b: str, width: str | None = None) -> Response:
    """Where two stored frames differ, amplified to be seen; the exact counts ride along in headers."""
    a, b = _digest(a), _digest(b)
    try:
        data, stats = review.frame_difference(_store(request), a, b, _width(width))
    except review.ReviewError as exc:
        raise _refuse(exc) from None
    return Response(data, media_type="image/png", headers={
        **IMMUTABLE, "x-pixels-differing": str(stats.pixels_differing), "x-max-difference": str(stats.max_abs)})


@router.get("/diff/{a}/{b}.json")
def difference_summary(request: Request, a: str, b: str) -> JSONResponse:
    """The exact statistics of two stored frames' difference (what the review page writes under the image)."""
    a, b = _digest(a), _digest(b)
    try:
        stats = review.difference_stats(_store(request), a, b)
    except review.ReviewError as exc:
        raise _refuse(exc) from None
    return JSONResponse(stats.to_json(), headers=IMMUTABLE)
