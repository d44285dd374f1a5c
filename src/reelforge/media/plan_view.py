"""A shot's blocking diagram, drawn: SVG for the studio's shot page, a Pillow image for the contact sheet.

The plan (previz/overview.py) is drawn top-down as seen from behind the camera's starting side:
x to the right, z up the picture, a grid line every metre. Props are their footprints in their
colours (never thinner than a few pixels) with their ids, marks small crosses with their names,
each cast member's path a line in their wardrobe top colour (hollow dot where they start, filled
dot and heading arrow where they end, a dot at each spot where they act with one label listing
what they do there and when), and the camera its path with the field of view at the start as a
wedge. Texts are placed so that none covers another (`layout`). Both drawings are pure functions
of the plan and the size asked for: numbers are written with fixed decimals and Pillow draws
opaque colours only, so the same plan gives the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from reelforge.previz.overview import Event, EventSpot, FigureTrack, Footprint, ShotOverview

BACKGROUND = (17, 19, 22)
GRID = (42, 46, 51)
MARK = (154, 160, 166)
CAMERA = (240, 180, 76)
TEXT = (230, 230, 227)
PROP_EDGE = (110, 110, 110)
PROP_OPACITY = 0.6  # props are mixed into the background so paths over them stay visible
WEDGE_OPACITY = 0.14
PAD = 8  # pixels around the plan
FONT_FILE = "DejaVuSans-Bold.ttf"
MIN_PROP_PX = 3.0  # a prop is drawn at least this wide and deep: a 0.3 m lamp post shows
SMALL_PROP_PX = 14.0  # labels keep off props no larger than this; larger ones can be written over
PROP_TEXT = (128, 133, 138)  # prop ids: small and muted, under the action
SUPERSAMPLE = 2  # the image is drawn this many times larger, then scaled down: smooth lines, same bytes


def font(size: int):
    """The bundled font (the same on every machine)."""
    return ImageFont.truetype(str(Path(str(resources.files("reelforge") / "fonts" / FONT_FILE))), size)


@dataclass(frozen=True)
class Projection:
    """Ground metres → picture pixels: x to the right, z up; one scale on both axes."""

    scale: float  # pixels per metre
    left: float  # pixel of x_min
    top: float  # pixel of z_max
    x_min: float
    z_max: float
    width: int
    height: int

    def __call__(self, x: float, z: float) -> tuple[float, float]:
        return self.left + (x - self.x_min) * self.scale, self.top + (self.z_max - z) * self.scale


def fit(bounds: tuple[float, float, float, float], width: int, height: int | None = None,
        max_height: int | None = None) -> Projection:
    """The projection that fits the plan's bounds into `width` × `height` (centred), or into
    `width` × its own height (at most `max_height`) when no height is given."""
    x_min, z_min, x_max, z_max = bounds
    span_x, span_z = max(x_max - x_min, 1e-6), max(z_max - z_min, 1e-6)
    scale = (width - 2 * PAD) / span_x
    if height is None:
        height = round(span_z * scale) + 2 * PAD
        if max_height is not None and height > max_height:
            height = max_height
    scale = min(scale, (height - 2 * PAD) / span_z)
    left = (width - span_x * scale) / 2
    top = (height - span_z * scale) / 2
    return Projection(scale, left, top, x_min, z_max, width, height)


def hex_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def mix(color: tuple[int, int, int], amount: float, under: tuple[int, int, int] = BACKGROUND) -> tuple[int, int, int]:
    """`color` at `amount` opacity over `under`, as an opaque colour."""
    return tuple(round(u + (c - u) * amount) for c, u in zip(color, under))  # type: ignore[return-value]


def readable(color: str) -> tuple[int, int, int]:
    """A wardrobe colour lifted until it reads on the dark plan (its hue kept)."""
    rgb = hex_rgb(color)
    luma = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    if luma >= 110:
        return rgb
    return mix((255, 255, 255), min(1.0, (110 - luma) / 180), rgb)


def seconds_text(seconds: float) -> str:
    return f"{seconds:.1f} s"


def event_text(event: Event) -> str:
    """'wave 1.6 s', 'walk 2.5 m 0.2–1.5 s'."""
    if event.end_s > event.start_s and event.action in ("walk", "run"):
        return f"{event.label} {event.start_s:.1f}–{event.end_s:.1f} s"
    return f"{event.label} {seconds_text(event.start_s)}"


def _grid_lines(projection: Projection, bounds) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    x_min, z_min, x_max, z_max = bounds
    lines = []
    for x in range(math.ceil(x_min), math.floor(x_max) + 1):
        lines.append((projection(x, z_min), projection(x, z_max)))
    for z in range(math.ceil(z_min), math.floor(z_max) + 1):
        lines.append((projection(x_min, z), projection(x_max, z)))
    return lines


def _aim_heading(aim: tuple[float, float]) -> float:
    """The heading (radians, 0 toward -z) of a ground direction (x, z): where an arrow along it points."""
    return math.atan2(aim[0], -aim[1])


def _arrow(projection: Projection, point: tuple[float, float], heading: float,
           length_px: float) -> list[tuple[float, float]]:
    """A heading arrow's three points (tail, head, and the head's two barbs) in pixels."""
    px, py = projection(*point)
    dx, dy = math.sin(heading), math.cos(heading)  # facing (sin h, -cos h) on the ground; z is up the picture
    hx, hy = px + dx * length_px, py + dy * length_px
    barb = length_px * 0.45
    left = (hx - barb * (dx * 0.8 + dy * 0.6), hy - barb * (dy * 0.8 - dx * 0.6))
    right = (hx - barb * (dx * 0.8 - dy * 0.6), hy - barb * (dy * 0.8 + dx * 0.6))
    return [(px, py), (hx, hy), left, right]


def name_side(overview: ShotOverview, figure: FigureTrack) -> int:
    """-1: write the name left of where the figure starts, 1: right. Names go outward from the cast's
    centre, so two people standing side by side do not write over each other."""
    if len(overview.figures) < 2:
        return 1
    centre = sum(f.start[0] for f in overview.figures) / len(overview.figures)
    return -1 if figure.start[0] < centre else 1


def _mark_arm(scale: float) -> float:
    return max(3.0, min(6.0, 0.2 * scale))


def _prop_box(p: Projection, prop: Footprint, k: float) -> Box:
    """A prop's footprint in pixels, at least `MIN_PROP_PX` across: a thin lamp post still shows."""
    cx, cy = p(prop.x, prop.z)
    w, d = max(prop.width * p.scale, MIN_PROP_PX * k) / 2, max(prop.depth * p.scale, MIN_PROP_PX * k) / 2
    return cx - w, cy - d, cx + w, cy + d


# --------------------------------------------------------------------------- labels
#
# Every text on the plan is placed by one deterministic greedy pass, most important first (marks,
# the camera, cast names, what each cast member does where, prop ids): each tries a fixed list of
# places around what it names, then the same moved up or down a line at a time, and takes the first
# that covers no text already placed and none of the plan's dots, crosses and arrow heads; else the
# one covering the least text, then the least else (a thin line then joins a moved label to what it
# names). Optional labels (prop ids; on the contact sheet, the actions, listed beside the plan) go
# right by what they name on free ground, or are left out (the SVG still names a prop in its tooltip).

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 pixels
LINE = 1.2  # line height, in font sizes
BASELINE = 0.92  # first baseline below a label's top, in font sizes
SEPARATOR = " · "
SPOT_LINES = 3  # at most this many lines of actions at one spot; more end in an ellipsis
DOT = 3.0  # how bad covering a dot, cross, arrow head or thin prop is, per pixel
LINE_SAMPLE = 0.5  # … and a sample of a path or of the camera's track
MOVED_COST = 0.15  # per line a label moves from its spot, in overlaps of its own area: near and slightly
#                    over a path line reads better than far away
STACK = 4  # how many line heights a label may move up or down when every place near its spot is taken
NEAR_POINT = ("upper-right", "lower-right", "upper-left", "lower-left", "right", "left", "above", "below")
NEAR_SPOT = ("lower-right", "lower-left", "upper-right", "upper-left", "below", "above", "right", "left")
NEAR_PROP = ("below", "above", "right", "left", "lower-right", "lower-left", "upper-right", "upper-left")


@dataclass(frozen=True)
class LabelStyle:
    """Font sizes (pixels, as drawn) and widths of the plan's texts; `k` scales pixel distances."""

    k: float
    mark: float
    name: float
    spot: float
    prop: float
    camera: float | None  # None: the camera is not named (the contact sheet says it beside the plan)
    spot_width: float  # a spot's label wraps at this width
    spots_optional: bool  # True: a spot label with no free place is left out (a legend lists the actions)


@dataclass(frozen=True)
class Label:
    """One text on the plan: what it names, its lines, the box they fill and how they align in it."""

    kind: str  # "mark", "camera", "name", "spot", "prop"
    key: str  # the mark's name, the character id ("name", "spot"), the prop id
    lines: tuple[str, ...]
    box: Box
    align: str  # "start", "middle" or "end" (SVG's text-anchor)
    size: float
    index: int = 0  # which of the cast member's spots ("spot")
    pad: float = 1.0  # pixels kept clear either side of the text
    moved: int = 0  # lines it was moved away from what it names (then a thin leader line joins them)
    point: tuple[float, float] = (0.0, 0.0)  # the middle of what it names

    def leader(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """From what the label names to the nearest point of its box, when it was moved away."""
        if not self.moved:
            return None
        x0, y0, x1, y1 = self.box
        px, py = self.point
        return self.point, (min(max(px, x0), x1), min(max(py, y0), y1))

    @property
    def x(self) -> float:
        x0, _, x1, _ = self.box
        return x0 + self.pad if self.align == "start" else x1 - self.pad if self.align == "end" else (x0 + x1) / 2

    def baselines(self) -> list[float]:
        return [self.box[1] + self.size * (BASELINE + LINE * n) for n in range(len(self.lines))]


@lru_cache(maxsize=32)
def _font_at(size: float):
    return font(max(1, round(size)))


def text_width(text: str, size: float) -> float:
    """The width of `text` in the bundled bold font (the SVG's sans-serif is no wider)."""
    return float(_font_at(size).getlength(text))


def shorten(text: str, size: float, width: float) -> str:
    """`text`, cut to `width` with an ellipsis if it is wider."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text.rstrip() + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def spot_lines(spot: EventSpot, size: float, width: float) -> tuple[str, ...]:
    """What a cast member does at one spot, 'turn → ben 2.4 s · wave 2.5 s', wrapped at `width`."""
    lines: list[str] = []
    for part in (shorten(event_text(e), size, width) for e in spot.events):
        if lines and text_width(lines[-1] + SEPARATOR + part, size) <= width:
            lines[-1] += SEPARATOR + part
        else:
            lines.append(part)
    if len(lines) > SPOT_LINES:
        lines = lines[:SPOT_LINES - 1] + [shorten(lines[SPOT_LINES - 1] + SEPARATOR + "…", size, width)]
    return tuple(lines)


def _around(anchor: Box, w: float, h: float, where: str, gap: float) -> tuple[Box, str]:
    ax0, ay0, ax1, ay1 = anchor
    cx, cy = (ax0 + ax1) / 2, (ay0 + ay1) / 2
    x, y, align = {
        "right": (ax1, cy - h / 2, "start"), "left": (ax0 - w, cy - h / 2, "end"),
        "above": (cx - w / 2, ay0 - h, "middle"), "below": (cx - w / 2, ay1, "middle"),
        "upper-right": (ax1, cy - h - gap, "start"), "lower-right": (ax1, cy + gap, "start"),
        "upper-left": (ax0 - w, cy - h - gap, "end"), "lower-left": (ax0 - w, cy + gap, "end"),
        "inside": (cx - w / 2, cy - h / 2, "middle"),
    }[where]
    return (x, y, x + w, y + h), align


def _candidates(anchor: Box, w: float, h: float, order: tuple[str, ...], step: float,
                gap: float) -> list[tuple[Box, str, int]]:
    """Places for a `w` × `h` label naming `anchor`, best first, with how many lines each is moved
    away: `order`, then the corners moved further up or down a line at a time (successive labels
    at one spot stack)."""
    out = [(*_around(anchor, w, h, where, gap), 0) for where in order]
    for n in range(1, STACK + 1):
        for where in ("lower-right", "lower-left", "upper-right", "upper-left"):
            (x0, y0, x1, y1), align = _around(anchor, w, h, where, gap)
            dy = n * step if where.startswith("lower") else -n * step
            out.append(((x0, y0 + dy, x1, y1 + dy), align, n))
    return out


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _place(kind: str, key: str, lines: tuple[str, ...], size: float, anchor: Box, order: tuple[str, ...],
           placed: list[Label], obstacles: list[tuple[Box, float]], canvas: Box, k: float,
           optional: bool = False, index: int = 0) -> None:
    w = max(text_width(line, size) for line in lines) + 2 * k
    h = size * LINE * len(lines)
    best: tuple[tuple[float, float], Box, str, int] | None = None
    for box, align, moved in _candidates(anchor, w, h, order, size * LINE, k):
        grown = (box[0] - k / 2, box[1] - k / 2, box[2] + k / 2, box[3] + k / 2)
        on_text = sum(_overlap(grown, other.box) for other in placed)
        inside = canvas[0] <= box[0] and canvas[1] <= box[1] and box[2] <= canvas[2] and box[3] <= canvas[3]
        outside = 0.0 if inside else w * h - _overlap(box, canvas)
        over = [(weight, _overlap(box, ob)) for ob, weight in obstacles]
        if optional and (on_text > 0.0 or outside > 0.0 or moved or any(a > 0.0 and wt >= DOT for wt, a in over)):
            continue  # an optional label goes right by what it names, on free ground, or not at all
        covered = sum(weight * area for weight, area in over) + MOVED_COST * moved * w * h
        score = (on_text + outside, covered)  # covering text or leaving the plan is worse than anything else
        if best is None or score < best[0]:
            best = (score, box, align, moved)
        if score == (0.0, 0.0):
            break
    if best is not None:
        placed.append(Label(kind, key, lines, best[1], best[2], size, index, k, best[3],
                            ((anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2)))


def _square(x: float, y: float, r: float) -> Box:
    return x - r, y - r, x + r, y + r


def layout(overview: ShotOverview, p: Projection, style: LabelStyle) -> list[Label]:
    """Where every text of the plan goes (see above), in drawing pixels."""
    k = style.k
    canvas = (0.0, 0.0, float(p.width), float(p.height))
    arm = _mark_arm(p.scale / k) * k
    obstacles: list[tuple[Box, float]] = []
    for mark in overview.marks:
        obstacles.append((_square(*p(mark.x, mark.z), arm), DOT))
    camera = overview.camera
    obstacles.append((_square(*p(*camera.points[0]), 5 * k), DOT))
    for prop in overview.props:  # a thin post is all dot: no text over it (a wide prop can take some)
        box = _prop_box(p, prop, k)
        if max(box[2] - box[0], box[3] - box[1]) <= SMALL_PROP_PX * k:
            obstacles.append(((box[0] - k, box[1] - k, box[2] + k, box[3] + k), DOT))
    if camera.moves:
        obstacles.append((_square(*p(*camera.points[-1]), 5 * k), DOT))
        obstacles += [(_square(*p(*q), 1.5 * k), LINE_SAMPLE) for q in camera.points[::4]]
    for figure in overview.figures:
        obstacles.append((_square(*p(*figure.start), 5 * k), DOT))
        obstacles.append((_square(*p(*figure.end), 5 * k), DOT))
        obstacles.append((_square(*_arrow(p, figure.end, figure.end_heading, 13.0 * k)[1], 3 * k), DOT))
        obstacles += [(_square(*p(e.x, e.z), 3 * k), 3.0) for e in figure.events]
        if figure.moves:
            obstacles += [(_square(*p(*q), 1.5 * k), LINE_SAMPLE) for q in figure.points[::4]]
    placed: list[Label] = []

    def place(kind, key, lines, size, anchor, order, optional=False, index=0):
        _place(kind, key, lines, size, anchor, order, placed, obstacles, canvas, k, optional, index)

    for mark in overview.marks:
        place("mark", mark.name, (mark.name,), style.mark, _square(*p(mark.x, mark.z), arm + k), NEAR_POINT)
    if style.camera is not None:
        place("camera", "camera", ("camera",), style.camera, _square(*p(*camera.points[0]), 5 * k),
              ("right", "left", "lower-right", "lower-left", "upper-right", "upper-left"))
    for figure in overview.figures:
        order = NEAR_POINT if name_side(overview, figure) > 0 else _mirrored(NEAR_POINT)
        place("name", figure.character_id, (figure.character_id,), style.name,
              _square(*p(*figure.start), max(6 * k, arm + k)), order)
    for figure in overview.figures:
        for index, spot in enumerate(figure.spots):
            place("spot", figure.character_id, spot_lines(spot, style.spot, style.spot_width), style.spot,
                  _square(*p(spot.x, spot.z), 5 * k), NEAR_SPOT, optional=style.spots_optional, index=index)
    for prop in overview.props:
        if not prop.prop_id:
            continue
        box = _prop_box(p, prop, k)
        seen = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], canvas[2]), min(box[3], canvas[3]))
        if seen[0] >= seen[2] or seen[1] >= seen[3]:
            continue  # outside the plan
        w, h = text_width(prop.prop_id, style.prop) + 2 * k, style.prop * LINE
        fits = seen[2] - seen[0] >= w + 4 * k and seen[3] - seen[1] >= h + 4 * k
        anchor = (seen[0] - k, seen[1] - k, seen[2] + k, seen[3] + k)
        place("prop", prop.prop_id, (prop.prop_id,), style.prop, anchor,
              (("inside",) if fits else ()) + NEAR_PROP, optional=True)
    return placed


def _mirrored(order: tuple[str, ...]) -> tuple[str, ...]:
    swap = {"right": "left", "left": "right"}
    return tuple("-".join(swap.get(word, word) for word in where.split("-")) for where in order)


# --------------------------------------------------------------------------- SVG


def _n(value: float) -> str:
    return f"{value:.1f}"


def _pts(points) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def _rgb(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def svg_style(width: int) -> LabelStyle:
    """The studio's texts: actions at one spot wrap at half the plan's width (at least 140 px)."""
    return LabelStyle(k=1.0, mark=10, name=11, spot=9, prop=8, camera=10, spot_width=max(140.0, width * 0.5),
                      spots_optional=False)


def _svg_text(label: Label, fill: tuple[int, int, int], extra: str = "") -> str:
    """A label as one <text> (a <tspan> a line when it wraps), with a dark halo so it reads over lines and
    props; a label moved away from what it names is joined to it by a thin line."""
    x = _n(label.x)
    if len(label.lines) == 1:
        spans = escape(label.lines[0])
    else:
        spans = "".join(f'<tspan x="{x}" y="{_n(y)}">{escape(line)}</tspan>'
                        for line, y in zip(label.lines, label.baselines()))
    anchor = "" if label.align == "start" else f' text-anchor="{label.align}"'
    leader = label.leader()
    line = "" if leader is None else (
        f'<line x1="{_n(leader[0][0])}" y1="{_n(leader[0][1])}" x2="{_n(leader[1][0])}" y2="{_n(leader[1][1])}" '
        f'stroke="{_rgb(mix(fill, 0.6))}" stroke-width="0.8"/>')
    return line + (f'<text x="{x}" y="{_n(label.baselines()[0])}"{anchor} fill="{_rgb(fill)}" '
                   f'font-size="{label.size:g}" font-family="sans-serif"{extra} stroke="{_rgb(BACKGROUND)}" '
                   f'stroke-width="3" stroke-linejoin="round" paint-order="stroke">{spans}</text>')


def plan_svg(overview: ShotOverview, width: int = 320, max_height: int = 420) -> str:
    """The plan as an inline SVG element (presentation attributes only: no style, no script)."""
    p = fit(overview.bounds, width, max_height=max_height)
    labels = layout(overview, p, svg_style(width))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-view" data-testid="plan-view" '
           f'width="{p.width}" height="{p.height}" viewBox="0 0 {p.width} {p.height}" role="img" '
           f'aria-labelledby="plan-title">',
           f'<title id="plan-title">Plan of shot {escape(overview.shot_path)}: {_plan_summary(overview)}</title>',
           f'<rect width="{p.width}" height="{p.height}" fill="{_rgb(BACKGROUND)}"/>',
           f'<g stroke="{_rgb(GRID)}" stroke-width="1">']
    out += [f'<line x1="{_n(a[0])}" y1="{_n(a[1])}" x2="{_n(b[0])}" y2="{_n(b[1])}"/>'
            for a, b in _grid_lines(p, overview.bounds)]
    out.append("</g>")
    wedge = [p(*point) for point in overview.camera.wedge()]
    out.append(f'<polygon class="field-of-view" points="{_pts(wedge)}" fill="{_rgb(mix(CAMERA, WEDGE_OPACITY))}" '
               f'stroke="{_rgb(CAMERA)}" stroke-width="0.8" stroke-dasharray="3 3"/>')
    out.append(f'<g class="props" stroke="{_rgb(PROP_EDGE)}" stroke-width="1">')
    for prop in overview.props:
        x0, y0, x1, y1 = _prop_box(p, prop, 1.0)
        fill = _rgb(mix(hex_rgb(prop.color), PROP_OPACITY))
        title = f"<title>{escape(prop.prop_id)}</title>" if prop.prop_id else ""
        if prop.shape == "cylinder":
            out.append(f'<ellipse cx="{_n((x0 + x1) / 2)}" cy="{_n((y0 + y1) / 2)}" rx="{_n((x1 - x0) / 2)}" '
                       f'ry="{_n((y1 - y0) / 2)}" fill="{fill}">{title}</ellipse>')
        else:
            out.append(f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
                       f'fill="{fill}">{title}</rect>')
    out.append("</g>")
    out.append('<g class="prop-labels">')
    out += [_svg_text(label, PROP_TEXT, f' data-prop="{escape(label.key)}"') for label in labels
            if label.kind == "prop"]
    out.append("</g>")
    arm = _mark_arm(p.scale)
    named = {label.key: label for label in labels if label.kind == "mark"}
    out.append(f'<g class="marks" stroke="{_rgb(MARK)}">')
    for mark in overview.marks:
        x, y = p(mark.x, mark.z)
        text = _svg_text(named[mark.name], MARK) if mark.name in named else ""
        out.append(f'<g data-mark="{escape(mark.name)}"><path d="M{_n(x - arm)},{_n(y)}H{_n(x + arm)}'
                   f'M{_n(x)},{_n(y - arm)}V{_n(y + arm)}" stroke-width="1.5"/>{text}</g>')
    out.append("</g>")
    out += _svg_camera(overview, p, next((label for label in labels if label.kind == "camera"), None))
    for figure in overview.figures:
        out += _svg_figure(figure, p, [label for label in labels if label.key == figure.character_id
                                       and label.kind in ("name", "spot")])
    out.append("</svg>")
    return "\n".join(out)


def _plan_summary(overview: ShotOverview) -> str:
    bits = []
    for figure in overview.figures:
        did = ", ".join(event_text(e) for e in figure.events) or "stands"
        bits.append(f"{figure.character_id}: {did}")
    bits.append("camera moves" if overview.camera.moves else "camera still")
    return escape("; ".join(bits))


def _svg_camera(overview: ShotOverview, p: Projection, label: Label | None) -> list[str]:
    camera = overview.camera
    colour = _rgb(CAMERA)
    out = [f'<g class="camera" data-moves="{"true" if camera.moves else "false"}">']
    if camera.moves:
        out.append(f'<polyline points="{_pts(p(*q) for q in camera.points)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"/>')
        end = camera.points[-1]
        ex, ey = p(*end)
        out.append(f'<rect x="{_n(ex - 4)}" y="{_n(ey - 4)}" width="8" height="8" fill="{_rgb(BACKGROUND)}" '
                   f'stroke="{colour}" stroke-width="1.5"/>')
        tail, head, left, right = _arrow(p, end, _aim_heading(camera.end_aim), 14.0)
        out.append(f'<polyline points="{_pts([tail, head])}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
                   f'<polyline points="{_pts([left, head, right])}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5"/>')
    x, y = p(*camera.points[0])
    out.append(f'<rect x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8" fill="{colour}"/>')
    if label is not None:
        out.append(_svg_text(label, CAMERA))
    out.append("</g>")
    return out


def _svg_figure(figure: FigureTrack, p: Projection, labels: list[Label]) -> list[str]:
    colour = _rgb(readable(figure.color))
    name = escape(figure.character_id)
    sx, sy = p(*figure.start)
    ex, ey = p(*figure.end)
    out = [f'<g class="figure" data-character="{name}" data-moves="{"true" if figure.moves else "false"}">']
    if figure.moves:
        out.append(f'<polyline class="path" points="{_pts(p(*q) for q in figure.points)}" fill="none" '
                   f'stroke="{colour}" stroke-width="2.5" stroke-linejoin="round"/>')
        out.append(f'<circle cx="{_n(sx)}" cy="{_n(sy)}" r="4" fill="{_rgb(BACKGROUND)}" stroke="{colour}" '
                   f'stroke-width="2"/>')
    arrows = [(figure.end_heading, figure.end, colour)]
    if figure.moves or figure.start_heading != figure.end_heading:  # where they started facing, dimmer
        arrows.insert(0, (figure.start_heading, figure.start, _rgb(mix(readable(figure.color), 0.55))))
    for heading, point, stroke in arrows:
        tail, head, left, right = _arrow(p, point, heading, 13.0)
        out.append(f'<polyline points="{_pts([tail, head])}" fill="none" stroke="{stroke}" stroke-width="1.5"/>'
                   f'<polyline points="{_pts([left, head, right])}" fill="none" stroke="{stroke}" '
                   f'stroke-width="1.5"/>')
    out.append(f'<circle cx="{_n(ex)}" cy="{_n(ey)}" r="4.5" fill="{colour}"/>')
    spot_labels = {label.index: label for label in labels if label.kind == "spot"}
    for index, spot in enumerate(figure.spots):
        x, y = p(spot.x, spot.z)
        label = _svg_text(spot_labels[index], TEXT) if index in spot_labels else ""
        actions = " ".join(e.action for e in spot.events)
        out.append(f'<g class="events" data-actions="{escape(actions)}"><circle cx="{_n(x)}" cy="{_n(y)}" r="2.5" '
                   f'fill="{_rgb(TEXT)}"/>{label}</g>')
    for label in labels:
        if label.kind == "name":
            out.append(_svg_text(label, readable(figure.color), ' font-weight="bold"'))
    out.append("</g>")
    return out


# --------------------------------------------------------------------------- PNG (Pillow)


def image_style(width: int, font_size: int) -> LabelStyle:
    """The contact sheet's texts (drawn `SUPERSAMPLE` times larger); actions at a spot are left out where
    they do not fit: the sheet lists them beside the plan."""
    k = SUPERSAMPLE
    return LabelStyle(k=k, mark=(font_size - 1) * k, name=font_size * k, spot=(font_size - 2) * k,
                      prop=(font_size - 3) * k, camera=None, spot_width=width * 0.5 * k, spots_optional=True)


def plan_image(overview: ShotOverview, width: int, height: int, font_size: int = 11) -> Image.Image:
    """The plan as an RGB image of exactly `width` × `height` (the contact sheet's cell)."""
    k = SUPERSAMPLE
    p = fit(overview.bounds, width * k, height * k)
    labels = layout(overview, p, image_style(width, font_size))
    image = Image.new("RGB", (width * k, height * k), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for a, b in _grid_lines(p, overview.bounds):
        draw.line([a, b], fill=GRID, width=k)
    camera = overview.camera
    draw.polygon([p(*q) for q in camera.wedge()], fill=mix(CAMERA, WEDGE_OPACITY), outline=mix(CAMERA, 0.6))
    for prop in overview.props:
        box = list(_prop_box(p, prop, k))
        fill = mix(hex_rgb(prop.color), PROP_OPACITY)
        if prop.shape == "cylinder":
            draw.ellipse(box, fill=fill, outline=PROP_EDGE, width=k)
        else:
            draw.rectangle(box, fill=fill, outline=PROP_EDGE, width=k)
    _draw_labels(draw, [label for label in labels if label.kind == "prop"], PROP_TEXT, k)
    arm = _mark_arm(p.scale / k) * k
    for mark in overview.marks:
        x, y = p(mark.x, mark.z)
        draw.line([(x - arm, y), (x + arm, y)], fill=MARK, width=k)
        draw.line([(x, y - arm), (x, y + arm)], fill=MARK, width=k)
    _draw_labels(draw, [label for label in labels if label.kind == "mark"], MARK, k)
    if camera.moves:
        draw.line([p(*q) for q in camera.points], fill=CAMERA, width=2 * k, joint="curve")
        ex, ey = p(*camera.points[-1])
        draw.rectangle([ex - 4 * k, ey - 4 * k, ex + 4 * k, ey + 4 * k], fill=BACKGROUND, outline=CAMERA, width=k)
        _draw_arrow(draw, _arrow(p, camera.points[-1], _aim_heading(camera.end_aim),
                                 14.0 * k), CAMERA, k)
    x, y = p(*camera.points[0])
    draw.rectangle([x - 4 * k, y - 4 * k, x + 4 * k, y + 4 * k], fill=CAMERA)
    for figure in overview.figures:
        colour = readable(figure.color)
        if figure.moves:
            draw.line([p(*q) for q in figure.points], fill=colour, width=3 * k, joint="curve")
            sx, sy = p(*figure.start)
            draw.ellipse([sx - 4 * k, sy - 4 * k, sx + 4 * k, sy + 4 * k], fill=BACKGROUND, outline=colour,
                         width=2 * k)
        _draw_arrow(draw, _arrow(p, figure.end, figure.end_heading, 11.0 * k), colour, k)
        ex, ey = p(*figure.end)
        draw.ellipse([ex - 4.5 * k, ey - 4.5 * k, ex + 4.5 * k, ey + 4.5 * k], fill=colour)
        for spot in figure.spots:
            x, y = p(spot.x, spot.z)
            draw.ellipse([x - 2.5 * k, y - 2.5 * k, x + 2.5 * k, y + 2.5 * k], fill=TEXT)
    for figure in overview.figures:
        mine = [label for label in labels if label.key == figure.character_id]
        _draw_labels(draw, [label for label in mine if label.kind == "spot"], TEXT, k)
        _draw_labels(draw, [label for label in mine if label.kind == "name"], readable(figure.color), k)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _draw_labels(draw, labels: list[Label], colour, k: int) -> None:
    anchors = {"start": "ls", "middle": "ms", "end": "rs"}
    for label in labels:
        leader = label.leader()
        if leader is not None:
            draw.line(leader, fill=mix(colour, 0.6), width=k)
        for line, y in zip(label.lines, label.baselines()):
            draw.text((label.x, y), line, fill=colour, font=_font_at(label.size), anchor=anchors[label.align],
                      stroke_width=k, stroke_fill=BACKGROUND)


def _draw_arrow(draw, points, colour, k: int) -> None:
    tail, head, left, right = points
    draw.line([tail, head], fill=colour, width=2 * k)
    draw.line([left, head, right], fill=colour, width=2 * k, joint="curve")
