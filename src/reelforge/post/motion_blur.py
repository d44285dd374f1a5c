"""Camera motion blur (`look.shutter_deg`) from the previz's exact motion field.

A shutter open for shutter/360 of a frame interval, centred on the frame's instant, sees each
surface point travel s · (its motion to the next frame), s = shutter/360. The motion is exact
(previz/passes.py: from the 3D scene, not estimated): to frame i + 1, and for the last frame the
negated motion to frame i − 1; a one-frame shot has none and is not blurred.

Each pixel averages the picture at N points evenly spaced along its own displacement, from −s/2 to
+s/2 of it (both ends included), gathered with `cv2.remap` (bilinear, border replicate). N is
one per pixel of the longest blur in the frame, plus one, at most MAX_SAMPLES (a faster blur
spaces its samples wider). Samples are summed as integers and rounded once, so the order and the
thread count cannot change a bit; cv2.remap computes each pixel on its own.

A gather along each pixel's own motion: a pixel whose point is hidden in the next frame
(`visible` false) still blurs along its own flow, and a still pixel stays byte for byte what it
was — a figure walking past a lock-off set softens inside its own silhouette while the set behind
it stays sharp (a blur that smears the figure over the set would need the figures' depth order;
previz does not). A frame with no motion at all is returned as it came, the same array.

The blur runs in the post chain on every backend's picture, before the grade: the generative
backends are conditioned on the previz geometry, so its motion is theirs. The picture must be at
job.width × job.height, the size the passes are built at. Cost, per 1080p frame on this project's
2-core CPU: the motion field about 0.23 s, the samples about 15 ms each over the box around the
moving pixels (0.4-0.45 s a frame in all, against 0.02 s for the previz frame): motion blur is
opt-in, and previz with it is no longer real time. With shutter_deg 0 nothing here runs.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.previz.passes import PrevizPasses

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

SAMPLE_SPACING_PX = 1.0  # samples at most this far apart along the longest blur in the frame …
MAX_SAMPLES = 32  # … up to this many (about 1.6 px apart for a 50 px blur)
CACHED_SHOTS = 1  # shots render one after another; a 1080p shot's passes keep 4 frames' geometry (about 30 MB each)

_passes: OrderedDict[str, PrevizPasses] = OrderedDict()
_lock = threading.Lock()


def shot_passes(job: ShotJob) -> PrevizPasses:
    """The shot's previz passes, shared by every frame (and thread) of it, keyed by the job key."""
    key = job.key
    with _lock:
        if key in _passes:
            _passes.move_to_end(key)
            return _passes[key]
        passes = _passes[key] = PrevizPasses(job)
        while len(_passes) > CACHED_SHOTS:
            _passes.popitem(last=False)
        return passes


def clear_cache() -> None:
    """Forget every shot's passes (tests and benchmarks start cold with it)."""
    with _lock:
        _passes.clear()


def shutter_motion(job: ShotJob, index: int) -> np.ndarray | None:
    """(height, width, 2) float32: each pixel's displacement while the shutter is open (from −1/2
    to +1/2 of it), or None when the look has no shutter or the shot one frame."""
    share = job.look.shutter_deg / 360.0
    if share <= 0.0 or job.frames < 2:
        return None
    passes = shot_passes(job)
    if index + 1 < job.frames:
        flow = passes.motion(index, index + 1).flow
    else:
        flow = -passes.motion(index, index - 1).flow
    return flow * np.float32(share)


def sample_count(displacement: np.ndarray) -> int:
    """Samples along every pixel's blur: one per SAMPLE_SPACING_PX of the longest, at most MAX_SAMPLES;
    0 when nothing moves."""
    longest = float(np.sqrt((displacement[:, :, 0] ** 2 + displacement[:, :, 1] ** 2).max()))
    if longest == 0.0:
        return 0
    return min(MAX_SAMPLES, max(2, math.ceil(longest / SAMPLE_SPACING_PX) + 1))


def motion_blur(job: ShotJob, index: int, picture: np.ndarray) -> np.ndarray:
    """Frame `index`'s picture blurred along its motion over the shutter (unchanged, the same array,
    with no shutter, a one-frame shot or no motion)."""
    displacement = shutter_motion(job, index)
    if displacement is None:
        return picture
    count = sample_count(displacement)
    if count == 0:
        return picture
    height, width = picture.shape[:2]
    if displacement.shape[:2] != (height, width):
        raise RuntimeError(f"motion blur of {job.shot_path} frame {index}: the picture is {width}×{height}, "
                           f"the job's previz {job.width}×{job.height}")
    # Only the box around the moving pixels is sampled: a still pixel's samples all fall on its own
    # centre, so it would come out as it was anyway (a walker before a lock-off costs a fraction).
    moving = (displacement != 0.0).any(axis=2)
    rows, cols = np.flatnonzero(moving.any(axis=1)), np.flatnonzero(moving.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    xs = np.arange(left, right, dtype=np.float32)[None, :]
    ys = np.arange(top, bottom, dtype=np.float32)[:, None]
    dx, dy = displacement[top:bottom, left:right, 0], displacement[top:bottom, left:right, 1]
    total = np.zeros((bottom - top, right - left, 3), dtype=np.uint16)  # MAX_SAMPLES · 255 fits
    for k in range(count):
        t = np.float32(k / (count - 1) - 0.5)
        total += cv2.remap(picture, xs + t * dx, ys + t * dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    result = picture.copy()
    # The mean, rounded half up, in integers: (2 · sum + count) // (2 · count).
    result[top:bottom, left:right] = (total.astype(np.uint32) * 2 + count) // (2 * count)
    return result
