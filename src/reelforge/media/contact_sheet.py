"""A contact sheet: one labelled still per shot on a PNG grid, so a person sees every control at once.

Each still is the middle frame of its shot, taken from the frame store (the same
bytes the episode was encoded from), scaled down, and labelled with the shot's path
and the controls that made it: camera move, lighting, style family, look. A shot with
action (someone blocked, or a camera that moves) also shows its plan below the label: a
small top-down diagram (media/plan_view.py) and, beside it, who does what when. The sheet
is a pure function of those frames, labels and plans (Pillow with the bundled font), so the
unsigned PNG has the same bytes on every run; `render` signs it like every delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from reelforge.media.plan_view import CAMERA, event_text, plan_image, readable
from reelforge.previz.overview import ShotOverview
from reelforge.store.atomic import atomic_path

THUMB_WIDTH = 480  # pixels per still; the height follows the frame's aspect ratio
COLUMNS = 4
MARGIN = 12
LABEL_SIZE = 15  # font size in pixels
LABEL_LINES = 3
LINE_SPACING = 4
BACKGROUND = (24, 24, 26)
TEXT = (235, 235, 230)
SUBTLE = (165, 165, 160)
FONT_FILE = "DejaVuSans-Bold.ttf"
PLAN_SIZE = 200  # the plan's square, below the label (only on sheets where some shot has action)
PLAN_GAP = 6
LEGEND_SIZE = 13


@dataclass(frozen=True)
class Still:
    """One cell of the sheet: a frame, the lines under it (the first is the shot path) and the shot's plan."""

    frame: np.ndarray
    lines: tuple[str, ...]
    plan: ShotOverview | None = None  # drawn when it shows action (previz/overview.py)

    @property
    def shows_plan(self) -> bool:
        return self.plan is not None and self.plan.shows_action


def _font(size: int):
    path = Path(str(resources.files("reelforge") / "fonts" / FONT_FILE))
    return ImageFont.truetype(str(path), size)


def _fit(draw, text: str, font, width: int) -> str:
    """The text, cut with an ellipsis so it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(stills: Sequence[Still], columns: int = COLUMNS, thumb_width: int = THUMB_WIDTH):
    """The sheet as a PIL RGB image: stills left to right, top to bottom, each with its label below."""
    if not stills:
        raise ValueError("a contact sheet needs at least one still")
    height, width = stills[0].frame.shape[:2]
    thumb_height = round(thumb_width * height / width)
    columns = max(1, min(columns, len(stills)))
    rows = -(-len(stills) // columns)
    label_height = LABEL_LINES * (LABEL_SIZE + LINE_SPACING)
    plan_height = PLAN_SIZE + PLAN_GAP if any(still.shows_plan for still in stills) else 0
    cell_w, cell_h = thumb_width + MARGIN, thumb_height + label_height + plan_height + MARGIN
    sheet = Image.new("RGB", (MARGIN + columns * cell_w, MARGIN + rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(LABEL_SIZE)
    for i, still in enumerate(stills):
        x = MARGIN + (i % columns) * cell_w
        y = MARGIN + (i // columns) * cell_h
        thumb = Image.fromarray(np.ascontiguousarray(still.frame)).resize((thumb_width, thumb_height),
                                                                          Image.Resampling.LANCZOS)
        sheet.paste(thumb, (x, y))
        for n, line in enumerate(still.lines[:LABEL_LINES]):
            draw.text((x, y + thumb_height + 3 + n * (LABEL_SIZE + LINE_SPACING)), _fit(draw, line, font, thumb_width),
                      fill=TEXT if n == 0 else SUBTLE, font=font)
        if still.shows_plan:
            _draw_plan(sheet, draw, still.plan, x, y + thumb_height + label_height + PLAN_GAP, thumb_width)
    return sheet


def _draw_plan(sheet, draw, plan: ShotOverview, x: int, y: int, width: int) -> None:
    """The plan in a square on the left; on its right, each cast member's actions with their times."""
    size = min(PLAN_SIZE, width)
    sheet.paste(plan_image(plan, size, size), (x, y))
    font = _font(LEGEND_SIZE)
    left, text_width = x + size + 10, width - size - 10
    lines = plan_legend(plan)
    step = LEGEND_SIZE + 3
    rows = PLAN_SIZE // step
    if len(lines) > rows:
        lines = lines[:rows - 1] + [("…", SUBTLE)]
    for n, (text, colour) in enumerate(lines):
        if text_width > 0:
            draw.text((left, y + n * step), _fit(draw, text, font, text_width), fill=colour, font=font)


def plan_legend(plan: ShotOverview) -> list[tuple[str, tuple[int, int, int]]]:
    """Who does what when, as lines with their colours: a cast member's name, then their actions."""
    lines: list[tuple[str, tuple[int, int, int]]] = []
    for figure in plan.figures:
        colour = readable(figure.color)
        if not figure.events:
            lines.append((f"{figure.character_id}: stands", colour))
            continue
        lines.append((figure.character_id, colour))
        lines += [("  " + event_text(event), SUBTLE) for event in figure.events]
    if plan.camera.moves:
        points = plan.camera.points
        travel = sum(((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for a, b in zip(points, points[1:]))
        lines.append((f"camera moves {travel:.1f} m", CAMERA))
    return lines


def write_png(image, path: Path) -> Path:
    """Write a PIL image as PNG atomically, with no metadata chunks (fixed bytes)."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=False, compress_level=6)
    return path


def shot_lines(job) -> tuple[str, ...]:
    """The label of one shot: where it is, then the controls that made it."""
    camera = job.camera
    moves = [camera.move] + [getattr(k, "move", "") for k in getattr(camera, "keyframes", ()) or ()]
    camera_text = " → ".join(m for m in moves if m)
    if getattr(camera, "handheld", None) and "handheld" not in moves:
        camera_text += " + handheld"
    light = job.lighting
    look = job.look
    look_bits = [look.aspect_ratio]
    for name in ("depth_of_field", "grain", "vignette", "lut"):
        if getattr(look, name, None):
            look_bits.append({"depth_of_field": "DOF", "lut": "LUT"}.get(name, name))
    if getattr(look, "shutter_deg", 0.0):
        look_bits.append(f"{look.shutter_deg:g}° shutter")
    cast = ", ".join(member.character_id for member in job.cast)
    return (job.shot_path + (f" — {cast}" if cast else ""),
            f"{camera_text} · {light.preset} {light.kelvin:.0f} K",
            f"{job.style.id} · {' '.join(look_bits)}")
