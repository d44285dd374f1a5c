"""The generative shots' model workers: an actor per GPU (or per few CPUs without GPUs), replaced when one dies.

Each `ShotWorker` keeps the pipelines it loaded for the whole render, so a checkpoint loads once
per GPU. Resources are declared explicitly (DESIGN.md: an actor that silently held a CPU left
none for the tasks). A dead actor is replaced and Ray places the new one where there is room;
an idle actor on a node that is gone is retired as soon as any actor is found dead, so no unit
is handed to it; and replacements are bounded, so an actor that cannot start (a node without
reelforge, say) stops the render instead of being started forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import ray
import ray.exceptions

from reelforge.engine.shot import RenderedOn
from reelforge.farm.cluster import alive_nodes
from reelforge.farm.errors import FarmError
from reelforge.farm.worker import ShotWorker

NO_WORKER_S = 120.0  # how long generative units wait for any live actor before the render stops
REPLACEMENTS_PER_ACTOR = 4  # at most this many replacements per actor of the pool, over a render


@dataclass(eq=False)
class Slot:
    actor: object
    node: RenderedOn | None = None  # known once the actor answered `ready`


class Actors:
    def __init__(self, count: int, options: dict):
        self.options = options
        self.starting: dict[ray.ObjectRef, Slot] = {}
        self.idle: list[Slot] = []
        self.taken: list[Slot] = []  # running a unit
        self.replacements_left = REPLACEMENTS_PER_ACTOR * count
        self.since_none = time.monotonic()
        for _ in range(count):
            self._start()

    def _start(self) -> None:
        actor = ShotWorker.options(**self.options, max_restarts=0, max_task_retries=0).remote()
        self.starting[actor.ready.remote()] = Slot(actor)

    def _replace(self, slot: Slot) -> None:
        ray.kill(slot.actor, no_restart=True)
        if self.replacements_left <= 0:
            raise FarmError("the farm's model workers keep dying as they start or render (see `ray status` and "
                            "the nodes' Ray logs): fix the nodes, then render again; finished shots are kept")
        self.replacements_left -= 1
        self._start()

    def started(self, ref: ray.ObjectRef) -> None:
        """An actor answered (or failed) its `ready` call."""
        slot = self.starting.pop(ref)
        try:
            slot.node = ray.get(ref)
        except ray.exceptions.RayError:
            self._replace(slot)
            return
        self.idle.append(slot)

    def take(self) -> Slot | None:
        if not self.idle:
            return None
        slot = self.idle.pop(0)
        self.taken.append(slot)
        return slot

    def give_back(self, slot: Slot) -> None:
        self.taken.remove(slot)
        self.idle.append(slot)

    def lost(self, slot: Slot) -> None:
        """An actor died (its process or its node): replace it, and retire idle ones whose node is gone too."""
        self.taken.remove(slot)
        self._replace(slot)
        alive = {node.node_id for node in alive_nodes()}
        for idle in [s for s in self.idle if s.node is not None and s.node.node_id not in alive]:
            self.idle.remove(idle)
            self._replace(idle)

    def check_alive(self, waiting: bool) -> None:
        """FarmError when units wait and no actor has been alive for NO_WORKER_S."""
        if self.idle or self.taken or not waiting:
            self.since_none = time.monotonic()
        elif time.monotonic() - self.since_none > NO_WORKER_S:
            raise FarmError(f"no worker for generative shots has been alive on the farm for {NO_WORKER_S:.0f} s "
                            "(a node was lost and none with a free GPU is left): start a node, then render again; "
                            "finished shots are kept")

    def stop(self) -> None:
        for slot in [*self.starting.values(), *self.idle, *self.taken]:
            ray.kill(slot.actor, no_restart=True)
        self.starting, self.idle, self.taken = {}, [], []
