"""Reading a .cube LUT file (Iridas/Resolve 1D or 3D) into a table, with what is wrong said in a sentence.

Planning reads a look's LUT to check it and keep a copy (plan/look.py); finishing reads the
kept copy to apply it (post/look.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from reelforge.plan.colour import import_colour

MAX_LUT_SIZE = 256  # lattice points per axis (real .cube files use 17-65)


class LutError(ValueError):
    """A look's .cube file is missing or unreadable: a user error naming the spec field and the file."""


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
    if not path.is_file():
        raise LutError(f"LUT file {path} not found" if not path.exists() else f"{path} is not a file")
    problem = _cube_text_problem(path)
    if problem:
        raise LutError(f"cannot read LUT file {path}: {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lut = import_colour().io.read_LUT_IridasCube(str(path))
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
