"""The review player's data: what plays for each version of a shot, and the shot between its neighbours.

The shot review page's player (static/player.js) asks for these; the library
(reelforge.app.review_media) decides what plays, with the review page's rules for which files are served.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from reelforge.app import review_media
from reelforge.app.render_request import RenderRefused
from reelforge.app.review_status import reviews_for_spec
from reelforge.app.status import production_status
from reelforge.store.catalog import existing_catalog
from reelforge.store.frames import FrameStore
from reelforge.studio.pages import shot_path, studio

router = APIRouter()
FRESH = {"cache-control": "private, no-cache"}  # a new render changes the answer


@router.get("/shots/{episode}/{scene}/{shot}/playback.json")
def playback(request: Request, episode: str, scene: str, shot: str) -> JSONResponse:
    """Every version of the shot (newest first) with its media; A and B as the review page pairs them."""
    path = shot_path(episode, scene, shot)
    state = studio(request)
    planned = reviews_for_spec(state.spec).get(path)
    with existing_catalog(state.paths.catalog) as catalog:
        versions, pair = (review_media.shot_playback(catalog, state.spec.parent, FrameStore(state.paths.frames), path,
                                                     planned.planned_key if planned is not None else None)
                          if catalog is not None else ([], None))
    if pair is None:
        raise HTTPException(status_code=404, detail=f"{path} has no rendered version to play")
    return JSONResponse({"shot": path, "a": pair[0], "b": pair[1], "versions": [v.to_json() for v in versions]},
                        headers=FRESH)


@router.get("/shots/{episode}/{scene}/{shot}/hookup.json")
def hookup(request: Request, episode: str, scene: str, shot: str) -> JSONResponse:
    """The shot before, this shot and the shot after in the episode's cut, each as it plays."""
    path = shot_path(episode, scene, shot)
    state = studio(request)
    try:
        status = production_status(state.spec)
    except RenderRefused as exc:
        raise HTTPException(status_code=409, detail=f"the spec does not load, so the cut order is unknown: {exc}")
    with existing_catalog(state.paths.catalog) as catalog:
        places = review_media.hookup(catalog, state.spec.parent, FrameStore(state.paths.frames), status, path)
    if places is None:
        raise HTTPException(status_code=404, detail=f"no such shot in the spec: {path}")
    return JSONResponse({"shot": path, "shots": [place.to_json() for place in places]}, headers=FRESH)

