"""Style-family post-process recipes for the previz backend (watercolor, stained glass, ...).

A family's `previz` recipe (spec/styles.py) is a list of steps run in order on the gray-box
picture. Each step is a pure function of (step, picture, picture size, per-shot seed):

* Sizes in a step are pixels of a 1080p picture, scaled by max(width / 1920, height / 1080),
  so a 4K or a small test render looks like the 1080p one scaled. The 1920 × 1080 reference is the
  canvas's shape at a short side of 1080 (1080 × 1920 for a vertical delivery, 1080 × 1080 for a
  square one), so a vertical frame's strokes are a 16:9 frame's, not 1.8 times larger.
* Textures, glass cells and hatching lines are seeded once per shot and step
  (plan/seeds.py: style_seed) and fixed in screen space: they do not boil from frame to frame.
  They are cached per (size, parameters, seed), since every frame of a shot reuses them.
* Arithmetic is integer where OpenCV would otherwise accumulate floats in running sums
  (box filters), whose low bits could depend on how rows are split between threads.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from reelforge.plan.seeds import style_seed
from reelforge.spec import recipe as spec

REFERENCE_SIZE = (1920, 1080)  # recipe sizes are pixels of this picture


@dataclass(frozen=True)
class _Context:
    scale: float  # recipe pixels → picture pixels
    palette: tuple[str, ...]
    seed: int  # this step's per-shot seed


def apply_recipe(job, index: int, picture: np.ndarray) -> np.ndarray:
    """The picture through the job's style recipe (unchanged for a family without one).

    Does not depend on `index`: everything that varies is seeded per shot, so it stays put.
    """
    steps = job.style.previz
    if not steps:
        return picture
    height, width = picture.shape[:2]
    lines = min(job.canvas_width, job.canvas_height) / REFERENCE_SIZE[1]  # the canvas's short side, in 1080s
    scale = max(width / (job.canvas_width / lines), height / (job.canvas_height / lines))
    for i, step in enumerate(steps):
        context = _Context(scale=scale, palette=job.style.palette, seed=style_seed(job.seed, i))
        picture = _OPS[type(step)](step, picture, context)
    return np.ascontiguousarray(picture)


def clear_caches() -> None:
    """Forget every cached texture, cell layout and line pattern (benchmarks and tests start cold with it)."""
    for cached in (_palette_lut, _palette_rank_lut, _solid, _bleed_maps, _texture_gain, voronoi_cells, hatch_lines):
        cached.cache_clear()


# --------------------------------------------------------------------------- small helpers


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint16)


def _frozen(array: np.ndarray) -> np.ndarray:
    """Cached arrays are shared between frames and threads: make them read-only."""
    array.flags.writeable = False
    return array


def _blend(picture: np.ndarray, over: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """picture × (1 − alpha) + over × alpha, per pixel (alpha float32 0..1)."""
    return cv2.blendLinear(picture, over, 1 - alpha, alpha)


def _gather(colours: np.ndarray, index: np.ndarray) -> np.ndarray:
    """colours[index] (an (n, 3) uint8 table, an index image): through 32-bit packed pixels, since np.take
    on words is several times faster than fancy indexing of RGB triples."""
    packed = np.zeros((len(colours), 4), dtype=np.uint8)
    packed[:, :3] = colours
    words = np.take(packed.view(np.uint32).ravel(), index)
    return cv2.cvtColor(words.view(np.uint8).reshape(*index.shape, 4), cv2.COLOR_RGBA2RGB)


@functools.lru_cache(maxsize=4)
def _solid(height: int, width: int, colour: str) -> np.ndarray:
    return _frozen(np.broadcast_to(_rgb(colour).astype(np.uint8), (height, width, 3)).copy())


def _gain(picture: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """picture × gain (float32 per pixel), rounded and saturated at white."""
    return cv2.multiply(picture, cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)


def _value_noise(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Smooth noise in about [-1, 1]: random values on a grid of `cell`-pixel squares, bicubically scaled."""
    if cell <= 1:
        return (rng.random((height, width), dtype=np.float32) * 2 - 1)
    grid = rng.random((max(2, round(height / cell) + 1), max(2, round(width / cell) + 1)), dtype=np.float32)
    return cv2.resize(grid * 2 - 1, (width, height), interpolation=cv2.INTER_CUBIC)


def _normalized(field: np.ndarray) -> np.ndarray:
    """Zero mean, largest magnitude 1."""
    field = field - np.float32(field.mean(dtype=np.float64))
    peak = float(np.abs(field).max())
    return field / np.float32(peak) if peak > 0 else field


@functools.lru_cache(maxsize=4)
def _palette_lut(palette: tuple[str, ...]) -> np.ndarray:
    """Nearest palette colour (in CIELAB) for every colour quantized to 5 bits a channel: 32768 × 3 uint8."""
    levels = (np.arange(32, dtype=np.float32) * 8 + 4) / 255
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    cube = np.stack([r, g, b], axis=-1).reshape(-1, 1, 3)
    return _frozen(_nearest(cube, palette).reshape(-1, 3))


def _nearest(colours: np.ndarray, palette: tuple[str, ...]) -> np.ndarray:
    """The nearest palette colour (uint8) for each colour of an (n, 1, 3) float32 RGB array in [0, 1]."""
    swatches = np.stack([_rgb(c) for c in palette]).astype(np.uint8)
    lab = cv2.cvtColor(colours, cv2.COLOR_RGB2Lab).reshape(-1, 1, 3)
    swatch_lab = cv2.cvtColor(swatches.reshape(-1, 1, 3).astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(1, -1, 3)
    distance = ((lab - swatch_lab) ** 2).sum(axis=-1)
    return swatches[np.argmin(distance, axis=1)]


@functools.lru_cache(maxsize=4)
def _palette_rank_lut(palette: tuple[str, ...]) -> np.ndarray:
    """For every 5-bit-quantized colour, the rank (darkest first) of its nearest palette colour: 32768 uint8."""
    ranked = _by_lightness(palette)
    nearest = _palette_lut(palette)
    swatches = np.stack([_rgb(c) for c in ranked]).astype(np.uint8)
    rank = np.zeros(len(nearest), dtype=np.uint8)
    for i, swatch in enumerate(swatches):
        rank[(nearest == swatch).all(axis=1)] = i
    return _frozen(rank)


def _by_lightness(palette: tuple[str, ...]) -> list[str]:
    return sorted(palette, key=lambda c: (float(_rgb(c) @ np.array([0.2126, 0.7152, 0.0722])), c))


def _lut_index(picture: np.ndarray) -> np.ndarray:
    q = picture >> 3
    return (q[..., 0].astype(np.uint16) << 10) | (q[..., 1].astype(np.uint16) << 5) | q[..., 2]


def _gray(picture: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)


# --------------------------------------------------------------------------- steps


def _smooth(step: spec.Smooth, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    height, width = picture.shape[:2]
    small = picture
    if step.work_scale < 1:
        size = (max(1, round(width * step.work_scale)), max(1, round(height * step.work_scale)))
        small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    radius = max(1.0, step.radius_px * ctx.scale * step.work_scale)
    if step.method == "bilateral":
        diameter = min(2 * round(radius) + 1, 25)  # the window's cost grows with its area; σ still sets the reach
        out = cv2.bilateralFilter(small, diameter, step.strength * 255, radius)
    else:
        out = cv2.edgePreservingFilter(small, flags=cv2.RECURS_FILTER, sigma_s=min(radius * 2, 200),
                                       sigma_r=step.strength)
    if out.shape[:2] != (height, width):
        out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
    return out


@functools.lru_cache(maxsize=4)
def _bleed_maps(width: int, height: int, amount: float, cell: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(seed))
    dx = _value_noise(rng, width, height, cell) * np.float32(amount)
    dy = _value_noise(rng, width, height, cell) * np.float32(amount)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    fixed, fraction = cv2.convertMaps(xs + dx, ys + dy, cv2.CV_16SC2)  # fixed point: exact, and faster
    return _frozen(fixed), _frozen(fraction)


def _bleed(step: spec.Bleed, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    amount = step.amount_px * ctx.scale
    if amount <= 0:
        return picture
    height, width = picture.shape[:2]
    fixed, fraction = _bleed_maps(width, height, amount, step.scale_px * ctx.scale, ctx.seed)
    return cv2.remap(picture, fixed, fraction, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _darken_edges(step: spec.DarkenEdges, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    gray = _gray(picture)
    blurred = cv2.GaussianBlur(gray, (0, 0), max(0.5, step.width_px * ctx.scale))
    difference = cv2.absdiff(gray, blurred)
    # A tone step of a third of the range (blurred to about half at the rim) darkens fully.
    edge = np.minimum(np.arange(256, dtype=np.float32) * np.float32(6 / 255), 1)
    lut = 1 - np.float32(step.strength) * edge
    return _gain(picture, lut[difference])


@functools.lru_cache(maxsize=4)
def _texture_gain(width: int, height: int, kind: str, strength: float, size: float, seed: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(seed))
    if kind == "paper":  # fibres and grain at three scales
        field = (0.35 * _value_noise(rng, width, height, size * 16) + 0.35 * _value_noise(rng, width, height, size * 4)
                 + 0.3 * _value_noise(rng, width, height, size))
    else:  # canvas: a woven grid of threads, unevenly thick
        period = max(2.0, size)
        x = np.arange(width, dtype=np.float32) * np.float32(2 * math.pi / period)
        y = np.arange(height, dtype=np.float32) * np.float32(2 * math.pi / period)
        weave = np.sin(y)[:, None] * np.sin(x)[None, :]
        field = 0.6 * weave + 0.4 * _value_noise(rng, width, height, period * 4)
    return _frozen(np.maximum(1 + np.float32(strength) * _normalized(field.astype(np.float32)), 0))


def _texture(step: spec.Texture, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    if step.strength == 0:
        return picture
    height, width = picture.shape[:2]
    gain = _texture_gain(width, height, step.kind, step.strength, max(1.0, step.scale_px * ctx.scale), ctx.seed)
    return _gain(picture, gain)


@dataclass(frozen=True)
class _Cells:
    labels: np.ndarray  # (h, w) int32, 1..count
    count: int
    stride: int  # cell colours are means over every stride-th pixel of every stride-th row
    sampled: np.ndarray  # the labels of those pixels, flat
    pixels: np.ndarray  # sampled pixels per label (index 0 unused)
    leading: np.ndarray  # (h, w) float32 alpha 0..1 of the lead lines
    shade: np.ndarray  # per label brightness factor


@functools.lru_cache(maxsize=2)
def voronoi_cells(width: int, height: int, cell: float, jitter: float, leading: float, shade: float,
                  seed: int) -> _Cells:
    """A shot's glass cells: one seed point per grid square, jittered; each pixel labelled by its nearest point."""
    rng = np.random.Generator(np.random.PCG64(seed))
    columns, rows = max(1, math.ceil(width / cell)), max(1, math.ceil(height / cell))
    offsets = 0.5 + jitter * (rng.random((rows, columns, 2)) - 0.5)
    xs = np.clip(((np.arange(columns)[None, :] + offsets[..., 0]) * cell).astype(np.int64), 0, width - 1)
    ys = np.clip(((np.arange(rows)[:, None] + offsets[..., 1]) * cell).astype(np.int64), 0, height - 1)
    points = np.ones((height, width), dtype=np.uint8)
    points[ys.ravel(), xs.ravel()] = 0
    _, labels = cv2.distanceTransformWithLabels(points, cv2.DIST_L2, cv2.DIST_MASK_5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    count = int(labels.max())
    stride = 2 if cell >= 8 else 1
    sampled = labels[::stride, ::stride].ravel()
    pixels = np.bincount(sampled, minlength=count + 1).astype(np.float64)
    if stride > 1 and (pixels[1:] == 0).any():  # a sliver of a cell between the sampled pixels: take them all
        stride, sampled = 1, labels.ravel()
        pixels = np.bincount(sampled, minlength=count + 1).astype(np.float64)
    boundary = np.zeros((height, width), dtype=bool)
    boundary[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    boundary[:-1, :] |= labels[:-1, :] != labels[1:, :]
    if leading <= 0:
        lead = np.zeros((height, width), dtype=np.float32)
    else:
        # Distance to the nearest cell border, turned into an anti-aliased line `leading` pixels wide.
        inside = np.where(boundary, 0, 255).astype(np.uint8)
        distance = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        lead = np.clip(np.float32(leading / 2 + 0.5) - distance, 0, 1)
    shades = 1 + rng.uniform(-shade, shade, count + 1)
    return _Cells(_frozen(labels), count, stride, _frozen(sampled), _frozen(pixels), _frozen(lead), _frozen(shades))


def _voronoi(step: spec.Voronoi, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    height, width = picture.shape[:2]
    cells = voronoi_cells(width, height, max(2.0, step.cell_px * ctx.scale), step.jitter,
                          step.leading_px * ctx.scale, step.shade, ctx.seed)
    counts = np.maximum(cells.pixels, 1)
    sample = picture[::cells.stride, ::cells.stride]
    means = np.stack([np.bincount(cells.sampled, weights=sample[..., c].ravel(), minlength=cells.count + 1) / counts
                      for c in range(3)], axis=1)  # (count + 1, 3), 0..255
    colours = means
    if step.palette_mix > 0 and ctx.palette:
        nearest = _nearest((means / 255).astype(np.float32).reshape(-1, 1, 3), ctx.palette).astype(np.float64)
        colours = means * (1 - step.palette_mix) + nearest * step.palette_mix
    colours = np.clip(np.round(colours * cells.shade[:, None]), 0, 255).astype(np.uint8)
    out = _gather(colours, cells.labels)
    return _blend(out, _solid(height, width, step.leading_color), cells.leading)


def _paper_layers(step: spec.PaperLayers, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    smooth = step.smooth_px * ctx.scale
    if smooth >= 0.3:
        picture = cv2.GaussianBlur(picture, (0, 0), smooth)
    if step.split == "colour" and ctx.palette:  # one sheet per palette colour, darkest on top
        ranked = _by_lightness(ctx.palette)
        level = _palette_rank_lut(ctx.palette)[_lut_index(picture)]
        if smooth >= 1:  # nearest-colour choices speckle where two colours are equally near
            level = cv2.medianBlur(level, 5)
        colours = np.stack([_rgb(c) for c in ranked]).astype(np.uint8)
    else:
        gray = _gray(picture)
        sheets = step.layers
        level = ((gray.astype(np.uint16) * sheets) >> 8).astype(np.uint8)  # 0 = darkest = the top sheet
        if ctx.palette:
            ranked = _by_lightness(ctx.palette)
            picks = [ranked[round(k * (len(ranked) - 1) / max(1, sheets - 1))] for k in range(sheets)]
            colours = np.stack([_rgb(c) for c in picks]).astype(np.uint8)
        else:  # each sheet in the mean colour of its tone band
            flat = level.ravel()
            counts = np.maximum(np.bincount(flat, minlength=sheets), 1)
            colours = np.stack([np.bincount(flat, weights=picture[..., c].ravel(), minlength=sheets) / counts
                                for c in range(3)], axis=1)
            colours = np.clip(np.round(colours), 0, 255).astype(np.uint8)
    out = _gather(colours, level)
    offset = step.shadow_px * ctx.scale
    dx = round(offset * math.cos(math.radians(step.shadow_angle_deg)))
    dy = round(offset * math.sin(math.radians(step.shadow_angle_deg)))
    if (dx or dy) and step.shadow_opacity > 0:
        # A sheet at q shadows q + (dx, dy): p is in shadow when the sheet at p − (dx, dy) is higher (darker).
        pad = max(abs(dx), abs(dy))
        padded = cv2.copyMakeBorder(level, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        height, width = level.shape
        above = padded[pad - dy:pad - dy + height, pad - dx:pad - dx + width]
        shadow = cv2.compare(above, level, cv2.CMP_LT)
        blur = step.shadow_blur_px * ctx.scale
        if blur >= 0.3:
            shadow = cv2.GaussianBlur(shadow, (0, 0), blur)
        darkening = 1 - np.arange(256, dtype=np.float32) * np.float32(step.shadow_opacity / 255)
        out = _gain(out, darkening[shadow])
    return out


def _kuwahara(step: spec.Kuwahara, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    """Classic Kuwahara: of the four (r+1)² squares that have the pixel as a corner, take the mean colour of
    the one whose brightness varies least. Sums are integer box filters (exact); the four squares are
    shifted views of one box filter."""
    r = max(1, round(step.radius_px * ctx.scale))
    k = r + 1
    height, width = picture.shape[:2]
    padded = cv2.copyMakeBorder(picture, r, r, r, r, cv2.BORDER_REFLECT_101)
    gray = _gray(padded)
    box = {"ksize": (k, k), "anchor": (0, 0), "normalize": False, "borderType": cv2.BORDER_REFLECT_101}
    s1 = cv2.boxFilter(gray, cv2.CV_32S, **box)
    s2 = cv2.boxFilter(gray.astype(np.uint16) ** 2, cv2.CV_32S, **box)
    means = cv2.blur(padded, (k, k), anchor=(0, 0), borderType=cv2.BORDER_REFLECT_101)
    corners = ((0, 0), (0, r), (r, 0), (r, r))  # (dy, dx): the square above-left, above-right, ...
    n = np.float32(k * k)
    s1 = s1.astype(np.float32)
    variance = s2.astype(np.float32) * n - s1 * s1  # × n², which does not change the order
    best = np.ascontiguousarray(variance[:height, :width])
    out = np.ascontiguousarray(means[:height, :width])
    for y, x in corners[1:]:  # the first square with the least variance wins (strictly less replaces)
        candidate = variance[y:y + height, x:x + width]
        calmer = cv2.compare(candidate, best, cv2.CMP_LT)
        best = cv2.min(best, candidate)
        cv2.copyTo(means[y:y + height, x:x + width], calmer, out)
    return out


def _ink_edges(step: spec.InkEdges, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    if step.blur_px * ctx.scale >= 0.3:
        picture_blurred = cv2.GaussianBlur(picture, (0, 0), step.blur_px * ctx.scale)
    else:
        picture_blurred = picture
    # Edges of each colour channel: a red shirt on brown ground has an edge that grey alone would miss.
    edges = np.zeros(picture.shape[:2], dtype=np.uint8)
    for channel in cv2.split(picture_blurred):
        np.maximum(edges, cv2.Canny(channel, step.low * 1020, step.high * 1020), out=edges)  # 1020: a 0→255 step
    width = step.width_px * ctx.scale
    if width >= 1.5:
        size = round(width)
        edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    alpha = edges.astype(np.float32) * np.float32(step.opacity * min(1.0, width) / 255)
    return _blend(picture, _solid(*picture.shape[:2], step.color), alpha)


@functools.lru_cache(maxsize=2)
def hatch_lines(width: int, height: int, angles: tuple[float, ...], spacing: float, line: float, wobble: float,
                seed: int) -> tuple[np.ndarray, ...]:
    """One anti-aliased line pattern (float32 alpha 0..1) per angle, fixed in screen space for the shot."""
    rng = np.random.Generator(np.random.PCG64(seed))
    x = np.arange(width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    patterns = []
    for angle in angles:
        a = math.radians(angle)
        across = x * np.float32(-math.sin(a)) + y * np.float32(math.cos(a))
        across = across + np.float32(wobble) * _value_noise(rng, width, height, spacing * 6)
        distance = np.abs(np.mod(across, np.float32(spacing)) - np.float32(spacing / 2))
        patterns.append(_frozen(np.clip(np.float32(line / 2 + 0.5) - distance, 0, 1)))
    return tuple(patterns)


def _hatching(step: spec.Hatching, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    height, width = picture.shape[:2]
    tone = _gray(picture)
    patterns = hatch_lines(width, height, step.angles_deg, max(2.0, step.spacing_px * ctx.scale),
                           max(0.5, step.line_px * ctx.scale), step.wobble_px * ctx.scale, ctx.seed)
    bands = len(patterns)
    alpha = np.zeros((height, width), dtype=np.float32)
    for i, pattern in enumerate(patterns):  # band i: tones below its threshold get its lines
        threshold = 255 * (step.solid_below + (step.lightest - step.solid_below) * (bands - i) / bands)
        lines = cv2.copyTo(pattern, cv2.compare(tone, threshold, cv2.CMP_LT), np.zeros_like(alpha))
        cv2.max(alpha, lines, dst=alpha)
    alpha[tone < 255 * step.solid_below] = 1
    return _blend(_solid(height, width, step.paper), _solid(height, width, step.ink), alpha)


def _palette_map(step: spec.PaletteMap, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    if not ctx.palette or step.mix == 0:
        return picture
    nearest = _gather(_palette_lut(ctx.palette), _lut_index(picture))
    return cv2.addWeighted(picture, 1 - step.mix, nearest, step.mix, 0)


def _adjust(step: spec.Adjust, picture: np.ndarray, ctx: _Context) -> np.ndarray:
    out = picture
    if step.saturation != 1:
        gray = cv2.cvtColor(_gray(out), cv2.COLOR_GRAY2RGB)
        out = cv2.addWeighted(out, step.saturation, gray, 1 - step.saturation, 0)
    if step.contrast != 1 or step.brightness != 0:
        values = (np.arange(256) / 255 - 0.5) * step.contrast + 0.5 + step.brightness
        lut = np.clip(np.round(values * 255), 0, 255).astype(np.uint8)
        out = cv2.LUT(out, lut)
    return out


_OPS = {
    spec.Smooth: _smooth,
    spec.Bleed: _bleed,
    spec.DarkenEdges: _darken_edges,
    spec.Texture: _texture,
    spec.Voronoi: _voronoi,
    spec.PaperLayers: _paper_layers,
    spec.Kuwahara: _kuwahara,
    spec.InkEdges: _ink_edges,
    spec.Hatching: _hatching,
    spec.PaletteMap: _palette_map,
    spec.Adjust: _adjust,
}
assert set(_OPS) == set(spec.OPS.values()), "every recipe op needs an implementation"
