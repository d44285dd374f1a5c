"""The studio's render queue: one worker renders one item at a time, every open page watches it.

A studio serves one production on one machine (one or two GPUs), so renders run in the order
they were asked for, by a single worker thread. Each item is the same library call as
`reelforge render` (`reelforge.rendering.render_production`), with the logged-in user who asked
as the render's actor. The CLI and the studio share the production's lock: when a terminal
render holds it, the item fails with the message the CLI would print.

Every change of the queue is published to the `Broadcaster`, which hands it from the worker
thread to the asyncio loop of each open `/events` stream. Progress is throttled; the start and
the end of an item always go out, and a slow page skips intermediate snapshots, never the last
one nor a "done" event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from reelforge.app.faults import fault_message
from reelforge.app.reassemble import assembly_request
from reelforge.app.render_request import (
    RenderRefused,
    RenderRequest,
    load_spec,
    plan_episodes,
    render_production,
)
from reelforge.farm.options import FarmOptions
from reelforge.plan.takes import MAX_TAKES
from reelforge.spec.base import ID_PATTERN
from reelforge.store.paths import ProductionPaths
from reelforge.trust.deliveries import relative_name

log = logging.getLogger(__name__)

KEEP_FINISHED = 50  # finished items kept for the queue page (newest first)
PROGRESS_INTERVAL = 0.2  # seconds: at most ~5 progress snapshots a second per item
MAX_TARGET_LENGTH = 200
ITEM_ID = re.compile(r"[0-9a-f]{12}")
TAKE_NUMBER = re.compile(r"[1-9][0-9]{0,2}")
_ID = re.compile(ID_PATTERN)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE_STATES = (RUNNING, QUEUED)


# -- refusals ------------------------------------------------------------------------------------

class QueueRefused(Exception):
    """A request the queue turns down, with the message a user should read."""


class InvalidTarget(QueueRefused):
    """The target is not `shot:EP/SC/SH`, `take:EP/SC/SH#K`, `episode:EP` or `assemble:EP`, or the spec does not
    load or plan (HTTP 400)."""


class UnknownTarget(QueueRefused):
    """A well-formed target that the current plan does not have (HTTP 404)."""


class UnknownItem(QueueRefused):
    """No item with this id in the queue or among the kept finished items (HTTP 404)."""


class NotCancellable(QueueRefused):
    """Only queued items can be cancelled: a running render is not interrupted (HTTP 409)."""


# -- targets -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What one item renders: a shot's full frame range, one take of a shot (app/takes.py), one episode, or one
    episode re-assembled from the store."""

    kind: str  # "shot" | "take" | "episode" | "assemble"
    path: str  # "s01e01/sc01/sh01" or "s01e01"
    take: int | None = None  # a take's number

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.path}" + (f"#{self.take}" if self.take is not None else "")

    @property
    def label(self) -> str:
        return self.path + (f" #{self.take}" if self.take is not None else "")

    @property
    def episode(self) -> str:
        return self.path.split("/")[0]

    def request(self, spec: Path, actor: str, farm: FarmOptions | None = None) -> RenderRequest:
        if self.kind == "shot":
            return RenderRequest(spec=spec, shot=self.path, actor=actor, farm=farm)
        if self.kind == "take":
            return RenderRequest(spec=spec, shot=self.path, actor=actor, farm=farm, takes=(self.take,))
        if self.kind == "assemble":  # renders nothing: no farm
            return assembly_request(spec, self.path, actor)
        return RenderRequest(spec=spec, episodes=[self.path], actor=actor, farm=farm)


def parse_target(text: str) -> Target:
    """`shot:EP/SC/SH`, `take:EP/SC/SH#K`, `episode:EP` or `assemble:EP` (ids as in the spec); InvalidTarget says
    what is wrong."""
    text = (text or "").strip()
    if not text:
        raise InvalidTarget("target: missing; give shot:EPISODE/SCENE/SHOT or episode:EPISODE")
    if len(text) > MAX_TARGET_LENGTH:
        raise InvalidTarget(f"target: longer than {MAX_TARGET_LENGTH} characters")
    kind, _, path = text.partition(":")
    take = None
    if kind == "take":
        path, _, number = path.partition("#")
        if not TAKE_NUMBER.fullmatch(number) or not 1 <= int(number) <= MAX_TAKES:
            raise InvalidTarget(f"target {text!r}: must look like take:EPISODE/SCENE/SHOT#K, K a take from 1 to "
                                f"{MAX_TAKES}")
        take = int(number)
    parts = path.split("/")
    expected = {"shot": 3, "take": 3, "episode": 1, "assemble": 1}.get(kind)
    if expected is None:
        raise InvalidTarget(f"target {text!r}: must start with 'shot:', 'take:' or 'episode:' (or 'assemble:' to "
                            "re-assemble an episode from the store)")
    if len(parts) != expected or not all(_ID.fullmatch(part) for part in parts):
        shape = {"shot": "shot:EPISODE/SCENE/SHOT", "take": "take:EPISODE/SCENE/SHOT#K"}.get(kind, f"{kind}:EPISODE")
        raise InvalidTarget(f"target {text!r}: must look like {shape}, each id lower-case letters, digits, "
                            "'-' or '_'")
    return Target(kind, path, take)


@dataclass(frozen=True)
class PlannedTarget:
    """A target the current plan has: the shots it renders and how many frames."""

    target: Target
    shots: tuple[str, ...]
    frames: int


def plan_target(spec: Path, target: Target) -> PlannedTarget:
    """Check a target against the production as it is now (load + plan, as a render would)."""
    try:
        episodes = plan_episodes(load_spec(spec), spec)
    except RenderRefused as exc:
        raise InvalidTarget(str(exc)) from None
    for episode in episodes:
        if target.kind in ("episode", "assemble") and episode.episode_id == target.path:
            return PlannedTarget(target, tuple(job.shot_path for job in episode.jobs), episode.frames)
        for job in episode.jobs:
            if target.kind in ("shot", "take") and job.shot_path == target.path:
                return PlannedTarget(target, (job.shot_path,), job.frames)
    if target.kind in ("episode", "assemble"):
        known = ", ".join(e.episode_id for e in episodes)
        raise UnknownTarget(f"no episode '{target.path}' in this production; episodes: {known}")
    known = ", ".join(job.shot_path for e in episodes for job in e.jobs)
    raise UnknownTarget(f"no shot '{target.path}' in this production; shots: {known}")


# -- items ---------------------------------------------------------------------------------------

def _clock_time() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class QueueItem:
    """One render asked for in the studio. Mutated only by its RenderQueue, under its lock."""

    id: str
    target: Target
    requested_by: str  # the logged-in user: the render's actor in the records
    shots: tuple[str, ...]
    frames_total: int
    state: str = QUEUED
    frames_done: int = 0
    current_shot: str = ""
    message: str = ""
    renders: list[dict] = field(default_factory=list)  # {render_id, kind, episode_id, output}
    submitted_at: str = field(default_factory=_clock_time)
    started_at: str = ""
    finished_at: str = ""
    seconds: float | None = None

    @property
    def finished(self) -> bool:
        return self.state not in ACTIVE_STATES

    def links(self) -> list[dict]:
        """Where to watch what the item made (the review pages of the studio)."""
        if self.state != DONE:
            return []
        if self.target.kind == "shot":
            episode, scene, shot = self.target.path.split("/")
            links = [{"href": f"/shots/{episode}/{scene}/{shot}/review", "label": "review the shot"}]
        elif self.target.kind == "take":
            links = [{"href": f"/shots/{self.target.path}#takes", "label": "see the takes"}]
        else:
            links = [{"href": f"/episodes/{self.target.path}", "label": "watch the episode"}]
        links += [{"href": f"/media/{render['render_id']}", "label": f"video (render #{render['render_id']})"}
                  for render in self.renders if render.get("render_id") is not None]
        return links

    def to_json(self, position: int | None = None) -> dict:
        return {
            "id": self.id, "target": self.target.text, "kind": self.target.kind, "label": self.target.label,
            "requested_by": self.requested_by, "state": self.state, "finished": self.finished,
            "frames_done": self.frames_done, "frames_total": self.frames_total, "current_shot": self.current_shot,
            "message": self.message, "shots": list(self.shots), "renders": [dict(r) for r in self.renders],
            "links": self.links(), "submitted_at": self.submitted_at, "started_at": self.started_at,
            "finished_at": self.finished_at, "seconds": self.seconds, "position": position,
        }

    def done_event(self) -> dict:
        """What `reelforge:render-done` carries: pages re-fetch the shots it names."""
        return {"item_id": self.id, "target": self.target.text, "state": self.state, "shots": list(self.shots),
                "message": self.message}


# -- broadcasting --------------------------------------------------------------------------------

class StreamEnded(Exception):
    """The subscription was closed: the server is stopping, or the page read too slowly."""


@dataclass(frozen=True)
class Event:
    kind: str  # "queue" (a full snapshot) | "done" (an item finished)
    data: dict

    def sse(self) -> str:
        """The event as server-sent-events text (JSON never contains a raw newline)."""
        return f"event: {self.kind}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


class Subscription:
    """One open page's feed. Lives on the asyncio loop that reads it; filled from any thread.

    A snapshot replaces the one still waiting (each is the whole queue), so a page that reads
    slowly skips intermediate progress but always gets the latest state; "done" events are
    never dropped. A reader so far behind that `limit` events wait is closed instead: its
    browser reconnects and starts again from a fresh snapshot.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.closed = False
        self._pending: deque[Event] = deque()
        self._ready = asyncio.Event()

    def _put(self, event: Event) -> None:  # on the loop
        if self.closed:
            return
        if event.kind == "queue":
            self._pending = deque(e for e in self._pending if e.kind != "queue")
        elif len(self._pending) >= self.limit:
            log.warning("a page reads the render queue too slowly; closing its stream (it reconnects)")
            self._close()
            return
        self._pending.append(event)
        self._ready.set()

    def _close(self) -> None:  # on the loop
        self.closed = True
        self._ready.set()

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event; None after `timeout` seconds without one. StreamEnded once closed
        and every event still waiting was read."""
        if not self._pending and not self.closed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        if self._pending:
            return self._pending.popleft()
        raise StreamEnded()


class Broadcaster:
    """Hands queue events from the worker thread to every subscribed asyncio reader."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    def subscribe(self) -> Subscription:
        """A feed for the calling coroutine's loop; already closed when the server is shutting down."""
        subscription = Subscription(asyncio.get_running_loop(), self.limit)
        with self._lock:
            if self._closed:
                subscription.closed = True
            else:
                self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Thread-safe: queue the event on every subscriber's loop."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            self._call(subscription, subscription._put, event)

    def close(self) -> None:
        """End every open stream (after what it still has to read) and refuse new ones: the server stops."""
        with self._lock:
            self._closed = True
            subscriptions = list(self._subscriptions)
            self._subscriptions.clear()
        for subscription in subscriptions:
            self._call(subscription, subscription._close)

    def reopen(self) -> None:
        with self._lock:
            self._closed = False

    def _call(self, subscription: Subscription, function, *args) -> None:
        try:
            subscription.loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # its loop is closed: that page is gone
            self.unsubscribe(subscription)


# -- the queue -----------------------------------------------------------------------------------

RenderFn = Callable[..., object]  # render_production's signature


class _Stopping(Exception):
    """Raised from the progress callback to end a render when the studio shuts down."""


class RenderQueue:
    """Renders of one production, in the order asked for, by one worker thread.

    `render` and `clock` are the library's render call and a monotonic clock; tests may pass their own.
    """

    def __init__(self, spec: Path, *, render: RenderFn = render_production, clock: Callable[[], float] = time.monotonic,
                 broadcaster: Broadcaster | None = None, keep_finished: int = KEEP_FINISHED,
                 progress_interval: float = PROGRESS_INTERVAL, farm: FarmOptions | None = None) -> None:
        self.spec = Path(spec)
        self.farm = farm  # render on this Ray farm (`reelforge studio --farm`); None: in this process
        self.broadcaster = broadcaster or Broadcaster()
        self._render = render
        self._clock = clock
        self._progress_interval = progress_interval
        self._changed = threading.Condition()
        self._active: list[QueueItem] = []  # the running item (if any) first, then queued ones in order
        self._finished: deque[QueueItem] = deque(maxlen=keep_finished)  # newest first
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._last_progress: dict[str, float] = {}

    # -- lifecycle (the app's lifespan) --

    def start(self) -> None:
        with self._changed:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self.broadcaster.reopen()
            self._thread = threading.Thread(target=self._work, name="reelforge-render-queue", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the frame being rendered (the render is cut off, as by Ctrl+C in a terminal), end the streams."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self.close_streams()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the render queue did not stop within %s s; its render is cut off", timeout)

    def close_streams(self) -> None:
        """End every open /events stream, so a server shutting down is not held by open pages."""
        self.broadcaster.close()

    # -- what pages and routes call --

    def submit(self, target: str, requested_by: str) -> tuple[dict, bool]:
        """Queue a render of `target` for `requested_by`: (the item, whether it is new).

        The same target still waiting in the queue is that item (no duplicate work).
        """
        planned = plan_target(self.spec, parse_target(target))  # outside the lock: it loads the spec
        with self._changed:
            for item in self._active:
                if item.state == QUEUED and item.target == planned.target:
                    return self._item_json(item), False
            item = QueueItem(id=self._new_id(), target=planned.target, requested_by=requested_by,
                             shots=planned.shots, frames_total=planned.frames)
            self._active.append(item)
            self._changed.notify_all()
            self._publish()
            return self._item_json(item), True

    def cancel(self, item_id: str, by: str | None = None) -> dict:
        """Take a queued item out of the queue (`by`: who did, said in its message); a running or finished one is
        refused."""
        with self._changed:
            item = self._find(item_id)
            if item.state != QUEUED:
                what = "is rendering" if item.state == RUNNING else f"has already finished ({item.state})"
                raise NotCancellable(f"item {item_id} ({item.target.text}) {what}: only queued items can be "
                                     "cancelled")
            self._active.remove(item)
            item.state = CANCELLED
            item.message = f"cancelled{f' by {by}' if by else ''} before it started"
            item.finished_at = _clock_time()
            self._finished.appendleft(item)
            self._changed.notify_all()
            self._publish()
            return self._item_json(item)

    def item(self, item_id: str) -> dict:
        with self._changed:
            return self._item_json(self._find(item_id))

    def snapshot(self) -> dict:
        """The whole queue as JSON: active items (running first), then finished ones (newest first)."""
        with self._changed:
            return self._snapshot()

    def wait(self, item_id: str, timeout: float | None = None) -> dict:
        """The item once it has finished (or as it is when `timeout` seconds have passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                item = self._find(item_id)
                remaining = None if deadline is None else deadline - time.monotonic()
                if item.finished or (remaining is not None and remaining <= 0):
                    return self._item_json(item)
                self._changed.wait(remaining)

    # -- internals (callers hold the lock where noted) --

    def _new_id(self) -> str:
        known = {item.id for item in self._active} | {item.id for item in self._finished}
        while True:
            candidate = secrets.token_hex(6)
            if candidate not in known:
                return candidate

    def _find(self, item_id: str) -> QueueItem:  # lock held
        if ITEM_ID.fullmatch(item_id or ""):  # fullmatch: '$' lets a trailing newline through
            for item in (*self._active, *self._finished):
                if item.id == item_id:
                    return item
        raise UnknownItem(f"no render {item_id!r} in the queue (finished items are kept for the last "
                          f"{self._finished.maxlen} renders)")

    def _position(self, item: QueueItem) -> int | None:  # lock held: 1 = next to render
        queued = [i for i in self._active if i.state == QUEUED]
        return queued.index(item) + 1 if item in queued else None

    def _item_json(self, item: QueueItem) -> dict:  # lock held
        return item.to_json(self._position(item))

    def _snapshot(self) -> dict:  # lock held
        items = [self._item_json(item) for item in (*self._active, *self._finished)]
        running = sum(1 for item in self._active if item.state == RUNNING)
        queued = sum(1 for item in self._active if item.state == QUEUED)
        return {"items": items, "running": running, "queued": queued, "active": running + queued}

    def _publish(self, done: QueueItem | None = None) -> None:  # lock held: snapshots go out in order
        self.broadcaster.publish(Event("queue", self._snapshot()))
        if done is not None:
            self.broadcaster.publish(Event("done", done.done_event()))

    # -- the worker --

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and not any(item.state == QUEUED for item in self._active):
                    self._changed.wait()
                if self._stopping:
                    return
                item = next(item for item in self._active if item.state == QUEUED)
                item.state = RUNNING
                item.started_at = _clock_time()
                self._last_progress[item.id] = self._clock()
                self._changed.notify_all()
                self._publish()
            began = time.monotonic()
            self._run(item)
            with self._changed:
                item.seconds = round(time.monotonic() - began, 2)
                item.finished_at = _clock_time()
                self._active.remove(item)
                self._finished.appendleft(item)
                self._last_progress.pop(item.id, None)
                self._changed.notify_all()
                self._publish(done=item if item.state in (DONE, FAILED) else None)  # not a shutdown's cut

    def _run(self, item: QueueItem) -> None:
        """Render one item and set its outcome (state, message, renders); never raises."""
        def start(task: str, label: str, total: int) -> None:
            with self._changed:
                item.frames_total, item.frames_done = total, 0
                self._publish()

        def progress(job, frames: int) -> None:
            if self._stopping:
                raise _Stopping()
            now = self._clock()
            with self._changed:
                item.frames_done += frames
                item.current_shot = job.shot_path
                if now - self._last_progress.get(item.id, float("-inf")) >= self._progress_interval:
                    self._last_progress[item.id] = now
                    self._publish()

        try:
            request = item.target.request(self.spec, item.requested_by, self.farm)
            outcome = self._render(request, start=start, progress=progress)
            # read inside the try: an outcome the queue cannot read must fail the item, not kill the worker
            message, renders = outcome_message(outcome), renders_of(outcome, self.spec)
        except RenderRefused as exc:
            self._finish(item, FAILED, str(exc))
        except _Stopping:
            self._finish(item, CANCELLED, "stopped: the studio shut down during this render; render it again")
        except Exception as exc:  # a full disk, a damaged catalog, or a bug: say so, keep the trace in the log
            log.exception("render of %s failed", item.target.text)
            paths = ProductionPaths.for_spec(self.spec)
            fault = fault_message(exc, show=lambda path: relative_name(paths, path))
            self._finish(item, FAILED, fault or f"the render failed unexpectedly ({type(exc).__name__}: {exc}); "
                                                "the studio's terminal shows the details")
        else:
            self._finish(item, DONE, message, renders=renders)

    def _finish(self, item: QueueItem, state: str, message: str, renders: list[dict] | None = None) -> None:
        with self._changed:
            item.state, item.message = state, message
            item.renders = renders or []
            if state == DONE:
                item.frames_done = item.frames_total


def renders_of(outcome, spec: Path) -> list[dict]:
    """The catalog renders an outcome delivered, with outputs named relative to the production."""
    paths = ProductionPaths.for_spec(spec)
    return [{"render_id": result.render_id, "kind": result.kind, "episode_id": result.episode_id,
             "output": relative_name(paths, result.output)} for result in outcome.results]


def outcome_message(outcome) -> str:
    """What the item says once done: the range check of a shot, the figures of an episode; the store's budget."""
    if outcome.job is not None:
        parts = [outcome.range_report if outcome.range_matches else f"warning: {outcome.range_report}"]
    else:
        parts = [f"{r.episode_id}: {r.frames} frames, {r.shots_reused} of {len(r.shots)} shots reused, "
                 f"{r.seconds:.1f} s" for r in outcome.results]
    if outcome.budget_note is not None:  # the item's message is read once it is done: where the store ended up
        parts.append(outcome.budget_note)
    return "; ".join(parts)
