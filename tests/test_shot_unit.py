"""A shot is a pure unit of work: a job, a frame range and a store in; frame hashes and a segment out.

`engine.shot.render_shot` must run anywhere — in a scratch folder with a store of its own, as a
farm worker would — and make exactly the bytes a production's render makes, touching nothing
but the store it is given: no catalog, no change log, no delivery, no signature.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import small_spec, write_spec

from reelforge.app.render_request import RenderRequest, render_production
from reelforge.engine.shot import Backends, produce_frames, render_shot
from reelforge.media.encode import encode_settings
from reelforge.plan.jobs import plan
from reelforge.spec.load import load_production
from reelforge.store.frames import FrameStore
from reelforge.store.hashing import file_sha256
from reelforge.store.segments import SegmentStore
from reelforge.store.shots import ShotStore


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> Path:
    """The small example, rendered as a user would."""
    spec = write_spec(tmp_path_factory.mktemp("unit") / "show", small_spec())
    render_production(RenderRequest(spec, actor="ana"))
    return spec


def recorded_shots(spec: Path) -> dict[str, tuple[list[str], str]]:
    """Each shot's frame hashes and segment hash as the production's catalog recorded them."""
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        rows = db.execute("SELECT shot_path, frame_hashes_json, segment_sha256 FROM render_shots").fetchall()
    return {path: (json.loads(frames), segment) for path, frames, segment in rows}


def scratch_store(folder: Path) -> ShotStore:
    return ShotStore(FrameStore(folder / "frames"), folder / "jobs", SegmentStore(folder / "segments"))


def test_a_shot_rendered_in_a_scratch_store_is_the_productions_shot_byte_for_byte(production, tmp_path):
    production_spec = load_production(production)
    jobs = [job for episode in plan(production_spec, production.parent) for job in episode.jobs]
    settings = encode_settings(production_spec.delivery)
    store, backends = scratch_store(tmp_path / "worker"), Backends()
    recorded = recorded_shots(production)
    for job in jobs:
        output = render_shot(job, store, settings, backends)
        frames, segment = recorded[job.shot_path]
        assert output.frame_hashes == frames and output.segment_sha256 == segment
        assert file_sha256(output.segment) == segment and not output.reused
        assert all(store.frames.check(digest) for digest in frames)
    # The unit of work wrote its store and nothing else: no catalog, no log, no delivery.
    assert sorted(p.name for p in (tmp_path / "worker").iterdir()) == ["frames", "jobs", "segments"]
    assert not list(tmp_path.rglob("*.sqlite")) and not list(tmp_path.rglob("renders"))


def test_a_shot_is_reused_from_its_store_and_a_range_re_renders_exactly(production, tmp_path):
    production_spec = load_production(production)
    job = plan(production_spec, production.parent)[0].jobs[0]
    settings = encode_settings(production_spec.delivery)
    store = scratch_store(tmp_path / "worker")
    whole = render_shot(job, store, settings, Backends())
    again = render_shot(job, store, settings, Backends())  # another worker's backends: the same bytes
    assert again.reused and again.rendered_frames == 0 and again.frame_hashes == whole.frame_hashes
    clip = render_shot(job, store, settings, Backends(), frames=(2, 5))
    assert clip.first_frame == 2 and clip.frame_hashes == whole.frame_hashes[2:5]
    assert clip.segment.name.startswith("incoming-range-")  # a clip of its own, never the shot's segment
    assert store.job(job.key).read_manifest() == whole.frame_hashes  # the shot's record is left as it was


def test_frames_produced_without_a_store_touch_no_store(production, tmp_path):
    job = plan(load_production(production), production.parent)[0].jobs[0]
    made = [digest for _, digest, _ in produce_frames(job, [0, 1], Backends())]
    assert made == recorded_shots(production)[job.shot_path][0][:2]
    assert not any(tmp_path.iterdir())
