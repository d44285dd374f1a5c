"""How a look's aspect ratio frames the picture inside the delivered canvas (letterbox or pillarbox), how
much of the world the lens sees on that canvas, and the size a generative model samples the picture at."""

from __future__ import annotations

import math

# Picture aspect ratio as width / height.
ASPECT_VALUES = {"16:9": 16 / 9, "1.85:1": 1.85, "2.39:1": 2.39, "4:3": 4 / 3, "1:1": 1.0, "9:16": 9 / 16}


def picture_size(aspect_ratio: str, canvas: tuple[int, int]) -> tuple[int, int]:
    """The largest even-sized picture of that aspect ratio that fits the canvas (letterbox or pillarbox)."""
    width, height = canvas
    ratio = ASPECT_VALUES[aspect_ratio]
    if ratio >= width / height:
        pic_w, pic_h = width, round(width / ratio / 2) * 2
    else:
        pic_w, pic_h = round(height * ratio / 2) * 2, height
    return pic_w, pic_h


def canvas_shape(canvas: tuple[int, int]) -> str:
    """The delivered canvas's shape as an aspect ratio name: 16:9, 9:16 or 1:1 (what an unset look follows)."""
    width, height = canvas
    return "16:9" if width > height else "9:16" if width < height else "1:1"


def framing_span(job) -> float:
    """Length, in the job's own pixels, of the canvas's long side: the 36 mm film gate spans it.

    The lens sees the whole canvas and the picture is its middle, so a 2.39:1 look crops the
    16:9 frame and never zooms it. The gate lies along the canvas's long side: a 16:9 canvas's
    width (as always), a 9:16 canvas's height (the camera turned on its side, so a vertical
    delivery sees more above and below than the 16:9 frame does) and either side of a 1:1.
    Focal length in pixels is focal_mm / 36 × this span. A job drawn at another size (a
    model's native size, scaled to the picture by cover-scaling and centre-cropping, or a
    small test job) scales the span by min(width / picture width, height / picture height),
    the inverse of that cover scale.
    """
    pic_w, pic_h = picture_size(job.look.aspect_ratio, (job.canvas_width, job.canvas_height))
    return max(job.canvas_width, job.canvas_height) * min(job.width / pic_w, job.height / pic_h)


def model_size(native: tuple[int, int], picture: tuple[int, int], step: int) -> tuple[int, int]:
    """The size a generative model samples a picture at, from its landscape native size.

    A landscape picture keeps the native size; a portrait one turns it on its side (768×1344 for
    SDXL's 1344×768); a square one gets a square of about the same pixel count, a multiple of
    `step` (the size the model's latent grid needs: SDXL 1344×768 → 1024×1024). The picture is
    then cover-scaled from it, so the model's pixels are spent on what is shown, not cropped away.
    """
    long_side, short_side = max(native), min(native)
    width, height = picture
    if width > height:
        return long_side, short_side
    if width < height:
        return short_side, long_side
    side = max(step, round(math.sqrt(long_side * short_side) / step) * step)
    return side, side
