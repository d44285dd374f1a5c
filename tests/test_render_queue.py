"""The studio's render queue without HTTP: order, no duplicate work, cancelling, failures as a user reads
them, the production lock shared with the CLI, the requester as the render's actor, and the broadcast
that every open page reads."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from studio_support import WAIT, FakeRender, running, small_production

from reelforge.app.render_request import RenderOutcome
from reelforge.engine.pipeline import RenderResult
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.studio.queue import (
    Broadcaster,
    Event,
    InvalidTarget,
    NotCancellable,
    RenderQueue,
    StreamEnded,
    UnknownItem,
    UnknownTarget,
    parse_target,
)

SHOT_A, SHOT_B = "s01e01/sc01/sh01", "s01e01/sc01/sh02"


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    return small_production(tmp_path_factory.mktemp("queue"))


def targets_rendered(fake: FakeRender) -> list[tuple[str, str]]:
    return [(f"shot:{r.shot}" if r.shot else f"episode:{r.episodes[0]}", r.actor) for r in fake.requests]


def test_items_render_in_the_order_asked_and_a_waiting_target_is_not_queued_twice(spec):
    fake = FakeRender()
    queue = RenderQueue(spec, render=fake)  # not started yet: everything waits
    first, created = queue.submit(f"shot:{SHOT_A}", "ana")
    assert created and first["state"] == "queued" and first["position"] == 1
    assert first["frames_total"] == 8 and first["shots"] == [SHOT_A]
    second, _ = queue.submit(f"shot:{SHOT_B}", "bo")
    again, created_again = queue.submit(f"shot:{SHOT_A}", "bo")  # the same target, still waiting
    assert not created_again and again["id"] == first["id"] and again["requested_by"] == "ana"
    episode, _ = queue.submit("episode:s01e01", "bo")
    assert episode["frames_total"] == 24 and len(episode["shots"]) == 3
    assert [item["id"] for item in queue.snapshot()["items"]] == [first["id"], second["id"], episode["id"]]
    assert queue.snapshot()["queued"] == 3

    with running(queue):
        finished = [queue.wait(item["id"], WAIT) for item in (first, second, episode)]
    assert targets_rendered(fake) == [(f"shot:{SHOT_A}", "ana"), (f"shot:{SHOT_B}", "bo"), ("episode:s01e01", "bo")]
    assert [item["state"] for item in finished] == ["done", "done", "done"]
    assert finished[0]["frames_done"] == 8 and finished[2]["frames_done"] == 8
    assert finished[0]["renders"][0]["output"] == f"renders/{SHOT_A.replace('/', '.')}.mp4"
    assert {"href": f"/shots/{SHOT_A}/review", "label": "review the shot"} in finished[0]["links"]
    assert {"href": "/episodes/s01e01", "label": "watch the episode"} in finished[2]["links"]
    # finished items are listed newest first, after the (now empty) active part
    assert [item["id"] for item in queue.snapshot()["items"]] == [episode["id"], second["id"], first["id"]]
    assert queue.snapshot()["active"] == 0


def test_a_target_asked_again_while_it_renders_is_queued_again_and_only_queued_items_cancel(spec):
    fake = FakeRender(hold=True)
    queue = RenderQueue(spec, render=fake)
    queue.start()
    try:
        rendering, _ = queue.submit(f"shot:{SHOT_A}", "ana")
        assert fake.started.wait(WAIT)
        assert queue.item(rendering["id"])["state"] == "running"
        # the spec may have changed since it started: the same target is rendered once more
        rerun, created = queue.submit(f"shot:{SHOT_A}", "bo")
        assert created and rerun["id"] != rendering["id"] and rerun["position"] == 1
        waiting, _ = queue.submit(f"shot:{SHOT_B}", "bo")
        assert queue.item(waiting["id"])["position"] == 2

        with pytest.raises(NotCancellable, match="is rendering"):
            queue.cancel(rendering["id"])
        cancelled = queue.cancel(waiting["id"])
        assert cancelled["state"] == "cancelled" and cancelled["finished"]
        with pytest.raises(NotCancellable, match="already finished"):
            queue.cancel(waiting["id"])
        with pytest.raises(UnknownItem):
            queue.cancel("0123456789ab")
        with pytest.raises(UnknownItem):
            queue.cancel("../../etc")
        assert queue.item(rerun["id"])["position"] == 1

        fake.release.set()
        assert queue.wait(rerun["id"], WAIT)["state"] == "done"
        with pytest.raises(NotCancellable, match="already finished"):
            queue.cancel(rerun["id"])
    finally:
        fake.release.set()
        queue.stop()
    assert targets_rendered(fake) == [(f"shot:{SHOT_A}", "ana"), (f"shot:{SHOT_A}", "bo")]  # never SHOT_B


def test_only_the_last_finished_items_are_kept(spec):
    queue = RenderQueue(spec, render=FakeRender(), keep_finished=2)
    items = [queue.submit(target, "ana")[0] for target in (f"shot:{SHOT_A}", f"shot:{SHOT_B}", "episode:s01e01")]
    with running(queue):
        queue.wait(items[2]["id"], WAIT)
    assert [item["id"] for item in queue.snapshot()["items"]] == [items[2]["id"], items[1]["id"]]
    with pytest.raises(UnknownItem):
        queue.item(items[0]["id"])


@pytest.mark.parametrize("target, message", [
    ("", "target: missing"),
    ("s01e01/sc01/sh01", "must start with 'shot:', 'take:' or 'episode:'"),
    ("shot:s01e01/sc01", "must look like shot:EPISODE/SCENE/SHOT"),
    ("shot:../../etc/passwd", "must look like shot:EPISODE/SCENE/SHOT"),
    ("episode:S01E01", "must look like episode:EPISODE"),
])
def test_malformed_targets_are_refused_with_what_is_wrong(spec, target, message):
    with pytest.raises(InvalidTarget, match=message):
        parse_target(target)
    queue = RenderQueue(spec, render=FakeRender())
    with pytest.raises(InvalidTarget):
        queue.submit(target, "ana")
    assert queue.snapshot()["items"] == []


def test_targets_missing_from_the_plan_and_a_spec_that_no_longer_loads_are_refused_before_queueing(tmp_path):
    spec = small_production(tmp_path)
    queue = RenderQueue(spec, render=FakeRender())
    with pytest.raises(UnknownTarget, match=f"no shot 's01e01/sc09/sh01' in this production; shots: {SHOT_A}"):
        queue.submit("shot:s01e01/sc09/sh01", "ana")
    with pytest.raises(UnknownTarget, match="no episode 's09e01' in this production; episodes: s01e01"):
        queue.submit("episode:s09e01", "ana")
    broken = json.loads(spec.read_text())
    broken["episodes"][0]["scenes"][0]["shots"][0]["frames"] = -3
    spec.write_text(json.dumps(broken))
    with pytest.raises(InvalidTarget, match=r"\$\.episodes\[0\]\.scenes\[0\]\.shots\[0\]\.frames"):
        queue.submit(f"shot:{SHOT_A}", "ana")
    assert queue.snapshot()["items"] == []


def test_a_spec_broken_after_queueing_fails_the_item_with_the_render_refusal(tmp_path):
    spec = small_production(tmp_path)
    queue = RenderQueue(spec)  # the real render_production
    item, _ = queue.submit(f"shot:{SHOT_A}", "ana")
    broken = json.loads(spec.read_text())
    broken["episodes"][0]["scenes"][0]["shots"][0]["frames"] = -3
    spec.write_text(json.dumps(broken))
    with running(queue):
        failed = queue.wait(item["id"], WAIT)
    assert failed["state"] == "failed"
    assert "$.episodes[0].scenes[0].shots[0].frames" in failed["message"]
    assert failed["renders"] == [] and failed["links"] == []


def test_a_production_held_by_the_cli_fails_clearly_then_renders_under_the_requesters_name(tmp_path):
    spec = small_production(tmp_path)
    paths = ProductionPaths.for_spec(spec)
    queue = RenderQueue(spec)
    with running(queue):
        with paths.lock("a render"):  # what a `reelforge render` in a terminal holds while it runs
            busy, _ = queue.submit(f"shot:{SHOT_B}", "bo")
            busy = queue.wait(busy["id"], WAIT)
        assert busy["state"] == "failed"
        assert busy["message"] == f"production busy: a render (pid {os.getpid()}) holds {paths.lock_file}, try again"

        item, _ = queue.submit(f"shot:{SHOT_B}", "bo")  # asked again once the terminal's render is over
        done = queue.wait(item["id"], WAIT)
    assert done["state"] == "done", done["message"]
    assert done["frames_done"] == done["frames_total"] == 8
    [render] = done["renders"]
    assert render["kind"] == "shot" and render["output"].startswith("renders/shots/")
    assert (paths.root / render["output"]).is_file()
    catalog = Catalog(paths.catalog)
    assert catalog.delivery(render["render_id"]).rendered_by == "bo"
    from reelforge.records.changelog import entries

    with catalog.session() as session:
        [logged] = [e for e in entries(session, kind="render", entity=f"shot:{SHOT_B}")]
    assert logged.actor == "bo" and f"render #{render['render_id']}" in logged.reason


def test_an_unexpected_failure_fails_the_item_readably_logs_the_trace_and_the_worker_goes_on(spec, caplog):
    """A bug in a render (or in reading what it returned) is not the user's input: the item fails with a
    sentence, the traceback goes to the studio's log only, and the next item still renders."""
    fake = FakeRender()
    calls = []

    def render(request, *, start, progress):
        calls.append(request.shot)
        if len(calls) == 1:
            raise ValueError("the engine tripped")
        if len(calls) == 2:  # an outcome the queue cannot read: no output file
            result = RenderResult(kind="shot", episode_id="s01e01", output=None, sha256="0" * 64, seconds=0.1)
            return RenderOutcome(results=[result], contact_sheet=None, mark_id=None, actor=request.actor,
                                 commit_id=1, job=None)
        return fake(request, start=start, progress=progress)

    queue = RenderQueue(spec, render=render)
    items = [queue.submit(target, "ana")[0] for target in (f"shot:{SHOT_A}", f"shot:{SHOT_B}", "episode:s01e01")]
    with running(queue):
        with caplog.at_level("ERROR", logger="reelforge.studio.queue"):
            finished = [queue.wait(item["id"], WAIT) for item in items]
    assert [item["state"] for item in finished] == ["failed", "failed", "done"]
    assert "the engine tripped" in finished[0]["message"] and "Traceback" not in finished[0]["message"]
    assert finished[1]["message"].startswith("the render failed unexpectedly")
    assert finished[0]["renders"] == [] and finished[1]["links"] == []
    assert sum("Traceback" in record.exc_text for record in caplog.records if record.exc_text) == 2


class RecordingBroadcaster(Broadcaster):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []

    def publish(self, event: Event) -> None:
        self.published.append(event)
        super().publish(event)


def test_progress_snapshots_are_throttled_but_start_and_finish_always_go_out(spec):
    now = [0.0]
    broadcaster = RecordingBroadcaster()
    queue = RenderQueue(spec, render=FakeRender(), clock=lambda: now[0], broadcaster=broadcaster,
                        progress_interval=0.2)
    item, _ = queue.submit(f"shot:{SHOT_A}", "ana")
    with running(queue):
        queue.wait(item["id"], WAIT)  # eight frames at the same instant: no progress snapshot is due
    states = [(e.kind, e.data["items"][0]["state"], e.data["items"][0]["frames_done"]) if e.kind == "queue"
              else (e.kind, e.data["state"]) for e in broadcaster.published]
    assert states == [("queue", "queued", 0), ("queue", "running", 0),  # submitted, started
                      ("queue", "running", 0),  # the render's start(): frames known
                      ("queue", "done", 8), ("done", "done")]
    assert broadcaster.published[-1].data == {"item_id": item["id"], "target": f"shot:{SHOT_A}", "state": "done",
                                              "shots": [SHOT_A], "message": "8 frames rendered"}

    def tick():
        now[0] += 0.25  # slower than the interval: every frame's progress goes out

    broadcaster.published.clear()
    queue = RenderQueue(spec, render=FakeRender(tick=tick), clock=lambda: now[0], broadcaster=broadcaster,
                        progress_interval=0.2)
    item, _ = queue.submit(f"shot:{SHOT_B}", "ana")
    with running(queue):
        queue.wait(item["id"], WAIT)
    progress = [e.data["items"][0]["frames_done"] for e in broadcaster.published
                if e.kind == "queue" and e.data["items"][0]["state"] == "running"]
    assert progress == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_every_subscriber_gets_the_latest_snapshot_and_every_done_event_from_another_thread():
    broadcaster = Broadcaster(limit=5)

    def snapshot(n: int) -> Event:
        return Event("queue", {"items": [], "active": n})

    async def scenario():
        eager, slow = broadcaster.subscribe(), broadcaster.subscribe()
        assert broadcaster.subscribers == 2
        received = []

        def worker_publishes(first: int, last: int) -> None:
            for n in range(first, last):
                broadcaster.publish(snapshot(n))
            broadcaster.publish(Event("done", {"item_id": f"item{last}"}))

        await asyncio.to_thread(worker_publishes, 0, 10)
        while (event := await eager.next(timeout=0)) is not None:
            received.append(event)
        await asyncio.to_thread(worker_publishes, 10, 20)
        await asyncio.to_thread(worker_publishes, 20, 30)
        while (event := await eager.next(timeout=0)) is not None:
            received.append(event)
        slow_received = []
        while (event := await slow.next(timeout=0)) is not None:
            slow_received.append(event)
        broadcaster.close()
        with pytest.raises(StreamEnded):
            await eager.next(timeout=1)
        late = broadcaster.subscribe()  # a page that opens while the server stops gets nothing
        with pytest.raises(StreamEnded):
            await late.next(timeout=1)
        return received, slow_received

    received, slow_received = asyncio.run(scenario())
    # a reader never gets a stale snapshot after a newer one, and never misses a done event
    assert [(e.kind, e.data.get("active", e.data.get("item_id"))) for e in received] == [
        ("queue", 9), ("done", "item10"), ("done", "item20"), ("queue", 29), ("done", "item30")]
    assert [(e.kind, e.data.get("active", e.data.get("item_id"))) for e in slow_received] == [
        ("done", "item10"), ("done", "item20"), ("queue", 29), ("done", "item30")]
    assert Event("done", {"item_id": "x"}).sse() == 'event: done\ndata: {"item_id":"x"}\n\n'


def test_a_subscriber_too_far_behind_is_closed_so_its_page_reconnects():
    broadcaster = Broadcaster(limit=3)

    async def scenario():
        subscription = broadcaster.subscribe()
        await asyncio.to_thread(lambda: [broadcaster.publish(Event("done", {"item_id": str(n)})) for n in range(5)])
        got = []
        with pytest.raises(StreamEnded):
            while True:
                got.append((await subscription.next(timeout=1)).data["item_id"])
        return got

    assert asyncio.run(scenario()) == ["0", "1", "2"]
