"""Re-assembling an episode: its cut brought up to date from the store by stream copy, rendering nothing.

A re-assembly is a render of the episode (app/render_request.py) that may only reuse: every shot
must be kept whole in the store in the version the spec plans, else it is refused naming the shots
to render first. So it delivers, signs and records exactly what `reelforge render --episode E` would
deliver now — the same code path, the same unsigned bytes — in the time a stream copy takes (or,
when the spec's encode settings changed since, the time encoding the stored frames again takes).

It delivers the same kind of file as the one it replaces: with that file's language deliveries
(and titles drawn into the picture, if it had them) and, when that file carried an invisible mark,
a new mark of its own. `reelforge assemble` and the studio's *Re-assemble* button both ask for it.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.app.render_request import RenderRequest, load_spec
from reelforge.app.review import episode_videos
from reelforge.store.catalog import existing_catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryRecord


def assembly_request(spec: Path, episode_id: str, actor: str | None = None, out: Path | None = None) -> RenderRequest:
    """The render request that re-assembles `episode_id` like its current file was delivered."""
    request = RenderRequest(spec=spec, episodes=[episode_id], actor=actor, out=out, assemble=True)
    paths = ProductionPaths.for_spec(spec)
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None:
            return request
        videos = episode_videos(catalog, paths.root, episode_id)
        if videos.picture is None:
            return request
        with catalog.session() as session:
            delivery = session.get(DeliveryRecord, videos.picture.render_id)
            request.mark = delivery is not None and delivery.mark_id is not None
    declared = load_spec(spec).delivery_languages()  # a language the spec dropped since is not delivered again
    languages = [tag for tag in dict.fromkeys(delivery.language for delivery in videos.languages) if tag in declared]
    if languages:
        request.languages = languages
        request.burn_titles = any(delivery.burned_titles for delivery in videos.languages)
    return request
