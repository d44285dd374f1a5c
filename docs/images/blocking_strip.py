"""Redraw docs/images/blocking-strip.png, the README's strip of a blocked shot.

    python docs/images/blocking_strip.py

Six previz frames of harbor-lights s01e01/sc01/sh02 ("Mara and Theo meet by the crates": Mara
walks in and turns to Theo, who turns and waves), evenly spaced, scaled to 320 px wide and
joined left to right. Frames come from the renderer itself (`render_frames`), as `reelforge
render` draws them before the post chain.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from reelforge.plan.jobs import find_job, plan
from reelforge.previz.raster import render_frames
from reelforge.spec.load import load_production

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "harbor-lights" / "production.json"
SHOT = "s01e01/sc01/sh02"
STILLS = 6
WIDTH = 320


def main() -> None:
    job = find_job(plan(load_production(SPEC), SPEC.parent), SHOT)
    picked = [round(i * (job.frames - 1) / (STILLS - 1)) for i in range(STILLS)]
    height = round(WIDTH * job.height / job.width)
    stills = [Image.fromarray(frame).resize((WIDTH, height), Image.Resampling.LANCZOS)
              for frame in render_frames(job, picked)]
    strip = Image.new("RGB", (WIDTH * STILLS, height))
    for n, still in enumerate(stills):
        strip.paste(still, (n * WIDTH, 0))
    out = Path(__file__).resolve().parent / "blocking-strip.png"
    strip.save(out, optimize=True)
    print(f"{out}: frames {', '.join(map(str, picked))} of {SHOT}")


if __name__ == "__main__":
    main()
