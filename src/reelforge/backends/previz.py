"""The previz backend: a fast, deterministic gray-box previsualization of each shot.

Why it exists: before any expensive generative model runs, a production needs to
see its blocking — where the cast stands, what the set looks like, how the camera
moves, where the light comes from — and see it in seconds, on a plain CPU, with
the same bytes on every run. Previz is that picture. It is also the conditioning
input for the generative backends that come later (layout, depth and motion come
from this render), so its determinism carries through to theirs.

Previz is frame-independent: each frame is a pure function of (job, index), so the
engine may render frames in any order, in parallel, or one range at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from reelforge.post.optics import depth_of_field
from reelforge.post.styles import apply_recipe
from reelforge.previz.camera import CameraPose, camera_path
from reelforge.previz.raster import ShotScene, check_index, draw

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

# Job fields previz never reads: it draws the blocking (figures, set, camera, light, look, style
# recipe), not the words. An edit that moves only these changes no previz pixel; the generative
# backends read them all. (The cast's identity tokens are text; its figures are `figures`.)
UNDRAWN = ("prompt", "negative_prompt", "language", "cast", "model")


class PrevizBackend:
    name = "previz"
    frame_independent = True
    parallel_frames = True  # numpy/OpenCV drawing releases the GIL; frames are pure functions of (job, index)

    # The engine asks for one frame at a time from a thread pool; building a shot's
    # scene and camera path costs about half a frame, so the last few shots are kept.
    CACHED_SHOTS = 4

    def __init__(self) -> None:
        self._prepared: OrderedDict[str, tuple[ShotScene, list[CameraPose]]] = OrderedDict()
        self._lock = threading.Lock()

    def _prepare(self, job: ShotJob) -> tuple[ShotScene, list[CameraPose]]:
        """Scene and camera path of a shot, keyed by the job key (which covers every pixel-affecting field)."""
        key = job.key
        with self._lock:
            if key in self._prepared:
                self._prepared.move_to_end(key)
                return self._prepared[key]
            prepared = (ShotScene(job), camera_path(job))
            self._prepared[key] = prepared
            while len(self._prepared) > self.CACHED_SHOTS:
                self._prepared.popitem(last=False)
            return prepared

    def render(self, job: ShotJob, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index, RGB uint8 frame of job.height × job.width × 3) in the order given."""
        indices = [check_index(job, i) for i in indices]  # fail before any work, not mid-stream
        return self._render(job, indices)

    def _render(self, job: ShotJob, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        if not indices:
            return
        scene, path = self._prepare(job)
        for index in indices:
            yield index, previz_picture(job, scene, path[index], index)


def previz_picture(job: ShotJob, scene: ShotScene, pose: CameraPose, index: int) -> np.ndarray:
    """One previz picture: the gray-box frame, then the look's depth of field, then the style recipe."""
    scene = scene.at(index)  # blocked figures posed for this frame
    picture = draw(scene, pose)
    picture = depth_of_field(job, scene, pose, picture)
    return apply_recipe(job, index, picture)
