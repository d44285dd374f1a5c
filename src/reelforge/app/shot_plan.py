"""A shot's blocking diagram for the studio: the spec planned as `render` plans it, drawn from above.

The plan view (previz/overview.py) is a function of the shot's job, which carries no location
marks (they move nothing, so they are not in its key); the marks come from the spec here, where
the production is at hand. A spec that does not load or plan right now has no diagram: the
shot's summary already says why.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.app.render_request import RenderRefused, load_spec
from reelforge.errors import SpecError
from reelforge.media.plan_view import plan_svg
from reelforge.plan.cast import CastFileError
from reelforge.plan.jobs import plan_shot
from reelforge.previz.overview import ShotOverview, shot_overview
from reelforge.store.paths import ProductionPaths


def shot_plan(spec: Path, shot_path: str) -> ShotOverview | None:
    """The plan of one shot (None: no such shot, or the spec does not load or plan now)."""
    spec = Path(spec)
    try:
        production = load_spec(spec)
    except RenderRefused:
        return None
    episode_id, _, rest = shot_path.partition("/")
    scene_id, _, shot_id = rest.partition("/")
    for episode in production.episodes:
        for scene in episode.scenes:
            for shot in scene.shots:
                if (episode.id, scene.id, shot.id) != (episode_id, scene_id, shot_id):
                    continue
                try:  # the model is not resolved: the plan needs geometry only, the same for every backend
                    job = plan_shot(production, episode, scene, shot, base_dir=ProductionPaths.for_spec(spec).root)
                    marks = production.location(scene.location).marks
                    return shot_overview(job, {name: (float(x), float(z)) for name, (x, z) in marks.items()})
                except (CastFileError, SpecError, ValueError):  # a file it names is broken: the summary says so
                    return None
    return None


def shot_plan_svg(spec: Path, shot_path: str, width: int = 320) -> str | None:
    """The diagram as an inline SVG element for the shot page, or None when there is no plan."""
    overview = shot_plan(spec, shot_path)
    return plan_svg(overview, width) if overview is not None else None
