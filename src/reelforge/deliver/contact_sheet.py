"""The contact sheet delivered beside a render's episodes: one labelled still per shot, signed.

Each still is its shot's middle frame, read from the store (re-hashed), so the sheet shows
exactly the frames the episodes carry, with the shot's plan drawn from its job (the same data
previz plays); the drawing is media/contact_sheet.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

from reelforge import __version__
from reelforge.deliver.options import DeliveryOptions
from reelforge.deliver.sign import sign
from reelforge.media.contact_sheet import Still, contact_sheet, shot_lines, write_png
from reelforge.previz.overview import shot_overview
from reelforge.store.atomic import atomic_path
from reelforge.store.hashing import file_sha256
from reelforge.store.shots import ShotStore


def deliver_contact_sheet(shots: Iterable, store: ShotStore, options: DeliveryOptions, output: Path,
                          marks: Mapping[str, Mapping[str, tuple[float, float]]] | None = None) -> Path:
    """One labelled still per shot (an engine.shot.ShotOutput: its middle frame) on a signed PNG grid at `output`,
    each with its plan (`marks`: location id → the location's named spots, which no job carries)."""
    stills, picked = [], []
    for shot in shots:
        middle = len(shot.frame_hashes) // 2
        digest = shot.frame_hashes[middle]
        stills.append(Still(store.frames.get(digest), shot_lines(shot.job), shot_overview(shot.job, (marks or {}).get(shot.job.set.location_id))))
        picked.append({"shot": shot.job.shot_path, "job_key": shot.job.key,
                       "frame": shot.first_frame + middle, "frame_sha256": digest})
    unsigned = store.segments.incoming(f"contact-sheet-{picked[0]['job_key']}.png")
    write_png(contact_sheet(stills), unsigned)
    assertion = {"generator": f"reelforge {__version__}", "kind": "contact-sheet",
                 "rendered_by": options.actor, "unsigned_sha256": file_sha256(unsigned), "stills": picked}
    with atomic_path(output) as tmp:
        try:
            sign(unsigned, tmp, dataclasses.replace(options, mark_id=None), assertion, output.name)
        finally:
            unsigned.unlink(missing_ok=True)
    return output
