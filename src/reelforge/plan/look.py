"""A shot's camera look, merged field by field from production → episode → scene → shot.

The resolved look (LookJob) holds numbers only: the LUT is keyed by the SHA-256 of its
file, and its path goes into the job's `assets` (not keyed), so moving the file
re-renders nothing and editing it re-renders exactly the shots that use it.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np

from reelforge.plan.base import Frozen
from reelforge.spec.look import Look

# Picture aspect ratio as width / height.
ASPECT_VALUES = {"16:9": 16 / 9, "1.85:1": 1.85, "2.39:1": 2.39, "4:3": 4 / 3, "1:1": 1.0, "9:16": 9 / 16}

MAX_LUT_SIZE = 256  # lattice points per axis (real .cube files use 17-65)


class LutError(ValueError):
    """A look's .cube file is missing or unreadable: a user error naming the spec field and the file."""


class DepthOfFieldJob(Frozen):
    f_stop: float
    focus_m: float | None  # None: the subject's distance, frame by frame


class LutJob(Frozen):
    sha256: str  # the .cube file's content; its path is in ShotJob.assets
    strength: float  # 1 = the LUT's output, 0 = the input


class LookJob(Frozen):
    aspect_ratio: str
    depth_of_field: DepthOfFieldJob | None = None  # previz only
    grain: float = 0.0
    vignette: float = 0.0
    lut: LutJob | None = None


def merge_looks(*looks: Look | None) -> Look:
    """Outermost first: each later look overrides the fields it sets.

    A depth of field merges field by field as well: a shot's {"focus_m": 2} keeps the
    scene's f-stop, as a director pulling focus on one shot expects.
    """
    merged: dict = {}
    for look in looks:
        if look is None:
            continue
        given = look.model_dump(exclude_none=True, exclude_unset=True)
        outer, inner = merged.get("depth_of_field"), given.get("depth_of_field")
        if isinstance(outer, dict) and isinstance(inner, dict):
            given["depth_of_field"] = {**outer, **inner}
        merged.update(given)
    return Look(**merged)


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


CUBE_KEYWORDS = ("TITLE", "DOMAIN_MIN", "DOMAIN_MAX", "LUT_1D_SIZE", "LUT_3D_SIZE")


def _cube_text_problem(path: Path) -> str | None:
    """Why a .cube file's text is not a LUT (first bad line, row count), in words; None if it looks right.

    colour-science's reader parses the file; this scan only turns the errors it would
    raise from numpy into a sentence a user can act on.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return "not a text file (a .cube LUT is UTF-8 text)"
    size, dimensions, rows = None, 3, 0
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if tokens[0] in ("LUT_1D_SIZE", "LUT_3D_SIZE"):
            dimensions = 1 if tokens[0] == "LUT_1D_SIZE" else 3
            if len(tokens) != 2 or not tokens[1].isdigit():
                return f"line {number}: {tokens[0]} needs one whole number"
            size = int(tokens[1])
        elif tokens[0] in CUBE_KEYWORDS:
            continue
        else:
            try:
                [float(t) for t in tokens]
            except ValueError:
                return f"line {number}: expected three numbers or a .cube keyword, got '{line.strip()[:40]}'"
            if len(tokens) != 3:
                return f"line {number}: expected three numbers, got {len(tokens)}"
            rows += 1
    if size is None:
        return "no LUT_3D_SIZE or LUT_1D_SIZE line"
    if not 2 <= size <= MAX_LUT_SIZE:
        return f"the LUT size must be between 2 and {MAX_LUT_SIZE}, got {size}"
    wanted = size ** dimensions
    if rows != wanted:
        return f"LUT_{dimensions}D_SIZE {size} needs {wanted} rows of three numbers, found {rows}"
    return None


def read_lut(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A .cube file as (table, domain): table (N, N, N, 3) indexed [r, g, b] for a 3D LUT
    or (N, 3) for a 1D one; domain (2, 3) min and max input per channel.

    Parsed with colour-science's Iridas/Resolve .cube reader; raises LutError with the
    reason when the file is missing or not a well-formed LUT.
    """
    from reelforge.plan.lighting import _import_colour

    if not path.is_file():
        raise LutError(f"LUT file {path} not found" if not path.exists() else f"{path} is not a file")
    problem = _cube_text_problem(path)
    if problem:
        raise LutError(f"cannot read LUT file {path}: {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lut = _import_colour().io.read_LUT_IridasCube(str(path))
        table = np.asarray(lut.table, dtype=np.float64)
        domain = np.asarray(lut.domain, dtype=np.float64).reshape(2, 3)
    except (ValueError, TypeError, IndexError, KeyError, OSError) as exc:  # what numpy raises on a bad table
        raise LutError(f"cannot read LUT file {path}: not a valid .cube file "
                       f"({type(exc).__name__}: {str(exc)[:120]})") from None
    size = table.shape[0]
    if table.ndim == 4:
        shape_ok = table.shape == (size, size, size, 3)
    else:
        shape_ok = table.ndim == 2 and table.shape[1] == 3
    if not shape_ok or not 2 <= size <= MAX_LUT_SIZE:
        raise LutError(f"cannot read LUT file {path}: expected LUT_3D_SIZE or LUT_1D_SIZE between 2 and "
                       f"{MAX_LUT_SIZE} and that many rows of three numbers, got a table of shape {table.shape}")
    if not (np.isfinite(table).all() and np.isfinite(domain).all()):
        raise LutError(f"cannot read LUT file {path}: it holds values that are not finite numbers")
    if not np.all(domain[1] > domain[0]):
        raise LutError(f"cannot read LUT file {path}: DOMAIN_MAX must be greater than DOMAIN_MIN")
    return table, domain


# (resolved path, size, mtime, inode, production root) → (sha256, kept copy): a production-wide
# LUT is resolved for every shot, but read, checked and copied once while it stays unchanged.
_checked: dict[tuple, tuple[str, str]] = {}
_checked_lock = threading.Lock()


def kept_lut(path: Path, base_dir: Path) -> tuple[str, str]:
    """Check that a .cube file reads as a LUT and keep this version of it in the production
    (`.reelforge/assets/<sha256>.cube`, like a watermark logo): (sha256, kept path).

    The job records the kept copy, so re-rendering or verifying it later applies exactly
    this LUT even after the user edits or moves their file.
    """
    from reelforge.deliver import keep_asset

    try:
        stat = path.stat()
    except OSError:
        stat = None
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, str(base_dir.resolve())) if stat else None
    with _checked_lock:
        if memo in _checked and Path(_checked[memo][1]).is_file():
            return _checked[memo]
    read_lut(path)
    try:
        kept = keep_asset(path, base_dir.resolve())
    except OSError as exc:
        raise LutError(f"cannot keep a copy of {path} under {base_dir / '.reelforge'}: {exc.strerror or exc}") from None
    result = (kept.stem, str(kept))  # keep_asset names the copy by the file's SHA-256
    with _checked_lock:
        _checked[memo] = result
    return result


def spec_path(value: str, base_dir: Path) -> Path:
    """A file named in the spec: relative paths start at the spec's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def resolve_look(look: Look, base_dir, canvas: tuple[int, int]) -> tuple[LookJob, dict[str, str]]:
    """The resolved look and the asset files it needs (sha256 → path).

    Raises LutError naming `look.lut` and the file when the LUT cannot be read.
    """
    dof = look.depth_of_field or None
    lut, assets = None, {}
    if look.lut:
        base_dir = Path(base_dir or Path.cwd())
        path = spec_path(look.lut, base_dir)
        try:
            digest, kept = kept_lut(path, base_dir)
        except LutError as exc:
            raise LutError(f"look.lut: {exc}") from None
        except OSError as exc:
            raise LutError(f"look.lut: cannot read LUT file {path}: {exc.strerror or exc}") from None
        strength = 1.0 if look.lut_strength is None else float(look.lut_strength)
        if strength > 0.0:
            lut, assets = LutJob(sha256=digest, strength=strength), {digest: kept}
    return LookJob(
        aspect_ratio=look.aspect_ratio or "16:9",
        depth_of_field=DepthOfFieldJob(f_stop=float(dof.f_stop), focus_m=dof.focus_m) if dof else None,
        grain=float(look.grain or 0.0),
        vignette=float(look.vignette or 0.0),
        lut=lut,
    ), assets


def lut_problems(production, base_dir) -> list[tuple[str, str]]:
    """(JSON path, message) for every look.lut in the spec that cannot be read, in spec order.

    Planning stops at the first bad LUT with a message that names the file; this walk
    names where in the spec each bad one is, so a user sees them all at once.
    """
    found = []
    levels = [("$", production)]
    for e, episode in enumerate(production.episodes):
        levels.append((f"$.episodes[{e}]", episode))
        for s, scene in enumerate(episode.scenes):
            levels.append((f"$.episodes[{e}].scenes[{s}]", scene))
            levels += [(f"$.episodes[{e}].scenes[{s}].shots[{t}]", shot) for t, shot in enumerate(scene.shots)]
    for where, level in levels:
        look = level.look
        if look is None or not look.lut:
            continue
        try:
            read_lut(spec_path(look.lut, Path(base_dir)))  # read only: checking a spec keeps no copies
        except LutError as exc:
            found.append((f"{where}.look.lut", str(exc)))
        except OSError as exc:
            found.append((f"{where}.look.lut", f"cannot read LUT file: {exc.strerror or exc}"))
    return found
