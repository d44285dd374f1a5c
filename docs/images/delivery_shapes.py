"""Redraw docs/images/delivery-shapes.png, docs/delivery.md's picture of one shot in three shapes.

    python docs/images/delivery_shapes.py

The last frame of harbor-lights s01e01/sc01/sh02 ("Mara and Theo meet by the crates") planned for a
16:9, a 1:1 and a 9:16 delivery at 1080p, each drawn so that the world is at the same scale in all
three (16:9 and 9:16 at a third of their size, 1:1 at 640 px). The white boxes mark the 16:9 frame's
view: the 1:1 frame has all of it and more above and below; the 9:16 frame (the camera turned on its
side) has its middle 56 % and more above and below. Frames come from the renderer itself
(`render_frames`), as `reelforge render` draws them before the post chain.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from reelforge.plan.jobs import find_job, plan
from reelforge.previz.raster import render_frames
from reelforge.spec.load import load_production

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "harbor-lights" / "production.json"
SHOT = "s01e01/sc01/sh02"
WIDE = (640, 360)  # the 16:9 frame at a third of 1920×1080
GAP = 24


def frame(aspect_ratio: str, size: tuple[int, int]) -> Image.Image:
    production = load_production(SPEC)
    delivery = production.delivery.model_copy(update={"aspect_ratio": aspect_ratio})
    job = find_job(plan(production.model_copy(update={"delivery": delivery}), SPEC.parent), SHOT)
    [pixels] = render_frames(job, [job.frames - 1])
    return Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)


def main() -> None:
    # The 36 mm gate spans each frame's long side: 1920 px of 16:9, 1080 of 1:1, 1920 of 9:16. At one scale of
    # the world, 1:1's 1080 px span the 16:9 frame's 640 px, and 9:16 is drawn at the 16:9 frame's scale.
    panels = [frame("16:9", WIDE), frame("1:1", (WIDE[0], WIDE[0])), frame("9:16", (WIDE[1], WIDE[0]))]
    height = max(p.height for p in panels)
    canvas = Image.new("RGB", (sum(p.width for p in panels) + GAP * (len(panels) - 1), height), "white")
    draw = ImageDraw.Draw(canvas)
    left, view_w = 0, WIDE[0]
    for n, panel in enumerate(panels):
        top = (height - panel.height) // 2
        canvas.paste(panel, (left, top))
        box_w = min(panel.width, view_w)  # the 16:9 view's width, as much as the frame has of it
        box_left = left + (panel.width - box_w) // 2
        box_top = (height - WIDE[1]) // 2
        if n:  # the 16:9 frame itself needs no box
            draw.rectangle((box_left, box_top, box_left + box_w - 1, box_top + WIDE[1] - 1), outline="white", width=2)
        left += panel.width + GAP
    out = Path(__file__).resolve().parent / "delivery-shapes.png"
    canvas.save(out, optimize=True)
    print(f"{out}: the last frame of {SHOT} as 16:9, 1:1 and 9:16")


if __name__ == "__main__":
    main()
