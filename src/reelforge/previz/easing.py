"""Easing curves evaluated: linear progress through a named curve or CSS cubic-bezier.

The spec's vocabulary and the arithmetic both live in spec/easing.py (validate samples walks with
the same curve previz plays); this is where previz takes them from, shared by camera moves
(previz/camera.py) and blocking (previz/blocking.py).
"""

from __future__ import annotations

from reelforge.spec.easing import cubic_bezier, ease

__all__ = ["cubic_bezier", "ease"]
