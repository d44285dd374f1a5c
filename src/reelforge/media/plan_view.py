"""A shot's blocking diagram, drawn: SVG for the studio's shot page, a Pillow image for the contact sheet.

The plan (previz/overview.py) is drawn top-down as seen from behind the camera's starting side:
x to the right, z up the picture, a grid line every metre. Props are their footprints in their
colours, marks small crosses with their names, each cast member's path a line in their wardrobe
top colour (hollow dot where they start, filled dot and heading arrow where they end, their
actions as dots with the time they start), and the camera its path with the field of view at
the start as a wedge. Both drawings are pure functions of the plan and the size asked for:
numbers are written with fixed decimals and Pillow draws opaque colours only, so the same plan
gives the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from reelforge.previz.overview import Event, FigureTrack, ShotOverview

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


# --------------------------------------------------------------------------- SVG


def _n(value: float) -> str:
    return f"{value:.1f}"


def _pts(points) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def _rgb(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def plan_svg(overview: ShotOverview, width: int = 320, max_height: int = 420) -> str:
    """The plan as an inline SVG element (presentation attributes only: no style, no script)."""
    p = fit(overview.bounds, width, max_height=max_height)
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
        cx, cy = p(prop.x, prop.z)
        w, d = prop.width * p.scale, prop.depth * p.scale
        fill = _rgb(mix(hex_rgb(prop.color), PROP_OPACITY))
        title = f"<title>{escape(prop.prop_id)}</title>" if prop.prop_id else ""
        if prop.shape == "cylinder":
            out.append(f'<ellipse cx="{_n(cx)}" cy="{_n(cy)}" rx="{_n(w / 2)}" ry="{_n(d / 2)}" fill="{fill}">'
                       f'{title}</ellipse>')
        else:
            out.append(f'<rect x="{_n(cx - w / 2)}" y="{_n(cy - d / 2)}" width="{_n(w)}" height="{_n(d)}" '
                       f'fill="{fill}">{title}</rect>')
    out.append("</g>")
    arm = _mark_arm(p.scale)
    out.append(f'<g class="marks" stroke="{_rgb(MARK)}" fill="{_rgb(MARK)}" font-size="10" '
               f'font-family="sans-serif">')
    for mark in overview.marks:
        x, y = p(mark.x, mark.z)
        out.append(f'<g data-mark="{escape(mark.name)}"><path d="M{_n(x - arm)},{_n(y)}H{_n(x + arm)}'
                   f'M{_n(x)},{_n(y - arm)}V{_n(y + arm)}" stroke-width="1.5"/>'
                   f'<text x="{_n(x + arm + 2)}" y="{_n(y - 2)}" stroke="none">{escape(mark.name)}</text></g>')
    out.append("</g>")
    out += _svg_camera(overview, p)
    for figure in overview.figures:
        out += _svg_figure(figure, p, name_side(overview, figure))
    out.append("</svg>")
    return "\n".join(out)


def _plan_summary(overview: ShotOverview) -> str:
    bits = []
    for figure in overview.figures:
        did = ", ".join(event_text(e) for e in figure.events) or "stands"
        bits.append(f"{figure.character_id}: {did}")
    bits.append("camera moves" if overview.camera.moves else "camera still")
    return escape("; ".join(bits))


def _svg_camera(overview: ShotOverview, p: Projection) -> list[str]:
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
        tail, head, left, right = _arrow(p, end, math.atan2(camera.end_aim[0], -camera.end_aim[1]), 14.0)
        out.append(f'<polyline points="{_pts([tail, head])}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
                   f'<polyline points="{_pts([left, head, right])}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5"/>')
    x, y = p(*camera.points[0])
    out.append(f'<rect x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8" fill="{colour}"/>'
               f'<text x="{_n(x + 7)}" y="{_n(y + 4)}" fill="{colour}" font-size="10" '
               f'font-family="sans-serif">camera</text>')
    out.append("</g>")
    return out


def _svg_figure(figure: FigureTrack, p: Projection, side: int) -> list[str]:
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
    for event in figure.events:
        if event.action in ("walk", "run"):
            continue  # the path itself
        x, y = p(event.x, event.z)
        out.append(f'<g class="event" data-action="{escape(event.action)}"><circle cx="{_n(x)}" cy="{_n(y)}" r="2.5" '
                   f'fill="{_rgb(TEXT)}"/><text x="{_n(x + 6)}" y="{_n(y + 12)}" fill="{_rgb(TEXT)}" '
                   f'font-size="9" font-family="sans-serif">{escape(event_text(event))}</text></g>')
    anchor = "start" if side > 0 else "end"
    out.append(f'<text x="{_n(sx + 7 * side)}" y="{_n(sy - 6)}" text-anchor="{anchor}" fill="{colour}" '
               f'font-size="11" font-weight="bold" font-family="sans-serif">{name}</text>')
    out.append("</g>")
    return out


# --------------------------------------------------------------------------- PNG (Pillow)


def plan_image(overview: ShotOverview, width: int, height: int, font_size: int = 11) -> Image.Image:
    """The plan as an RGB image of exactly `width` × `height` (the contact sheet's cell)."""
    k = SUPERSAMPLE
    p = fit(overview.bounds, width * k, height * k)
    image = Image.new("RGB", (width * k, height * k), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for a, b in _grid_lines(p, overview.bounds):
        draw.line([a, b], fill=GRID, width=k)
    camera = overview.camera
    draw.polygon([p(*q) for q in camera.wedge()], fill=mix(CAMERA, WEDGE_OPACITY), outline=mix(CAMERA, 0.6))
    for prop in overview.props:
        cx, cy = p(prop.x, prop.z)
        w, d = prop.width * p.scale / 2, prop.depth * p.scale / 2
        box = [cx - w, cy - d, cx + w, cy + d]
        fill = mix(hex_rgb(prop.color), PROP_OPACITY)
        if prop.shape == "cylinder":
            draw.ellipse(box, fill=fill, outline=PROP_EDGE, width=k)
        else:
            draw.rectangle(box, fill=fill, outline=PROP_EDGE, width=k)
    text_font = font(font_size * k)
    arm = _mark_arm(p.scale / k) * k
    for mark in overview.marks:
        x, y = p(mark.x, mark.z)
        draw.line([(x - arm, y), (x + arm, y)], fill=MARK, width=k)
        draw.line([(x, y - arm), (x, y + arm)], fill=MARK, width=k)
        draw.text((x + arm + 2 * k, y - font_size * k), mark.name, fill=MARK, font=text_font)
    if camera.moves:
        draw.line([p(*q) for q in camera.points], fill=CAMERA, width=2 * k, joint="curve")
        ex, ey = p(*camera.points[-1])
        draw.rectangle([ex - 4 * k, ey - 4 * k, ex + 4 * k, ey + 4 * k], fill=BACKGROUND, outline=CAMERA, width=k)
        _draw_arrow(draw, _arrow(p, camera.points[-1], math.atan2(camera.end_aim[0], -camera.end_aim[1]),
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
        for event in figure.events:
            if event.action not in ("walk", "run"):
                x, y = p(event.x, event.z)
                draw.ellipse([x - 2.5 * k, y - 2.5 * k, x + 2.5 * k, y + 2.5 * k], fill=TEXT)
        sx, sy = p(*figure.start)
        side = name_side(overview, figure)
        draw.text((sx + 6 * k * side, sy - 4 * k), figure.character_id, fill=colour, font=text_font,
                  anchor="ls" if side > 0 else "rs")
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _draw_arrow(draw, points, colour, k: int) -> None:
    tail, head, left, right = points
    draw.line([tail, head], fill=colour, width=2 * k)
    draw.line([left, head, right], fill=colour, width=2 * k, joint="curve")
