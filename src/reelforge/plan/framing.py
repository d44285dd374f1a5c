"""How a look's aspect ratio frames the picture inside the delivered canvas (letterbox or pillarbox)."""

from __future__ import annotations

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


def framing_width(job) -> float:
    """Width, in the job's own pixels, of the full canvas framing the picture is a centre crop of.

    The lens sees the whole canvas (16:9); a 2.39:1 or 9:16 look shows the middle of
    it. Focal length in pixels is based on this width, so changing the aspect ratio
    crops the picture and never zooms it. A job drawn at another size (a model's
    native size, scaled to the picture by cover-scaling and centre-cropping, or a
    small test job) scales the framing by min(width / picture width, height /
    picture height), the inverse of that cover scale.
    """
    pic_w, pic_h = picture_size(job.look.aspect_ratio, (job.canvas_width, job.canvas_height))
    return job.canvas_width * min(job.width / pic_w, job.height / pic_h)
