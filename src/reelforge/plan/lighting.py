"""A shot's lighting, resolved from its preset: key direction, colour, and the grade it implies.

The grade's numbers (white-balance gains, contrast, saturation) are computed here, at
plan time, and stored in the job: they are keyed, and `post.grade` only applies them.
"""

from __future__ import annotations

import warnings
from functools import cache

from reelforge.plan.base import Frozen
from reelforge.plan.colour import LUMA, import_colour
from reelforge.spec import presets
from reelforge.spec.lighting import Lighting


class Light(Frozen):
    preset: str
    azimuth_deg: float
    elevation_deg: float
    kelvin: float
    key_rgb: tuple[float, float, float]  # linear RGB of the key light, max channel 1
    key: float
    ambient: float
    sky_top: str
    sky_horizon: str
    # The grade every backend's frames get (post/grade.py). Defaults are the identity.
    white_balance: float = 0.0  # fraction of the 6500 K → kelvin colour shift applied
    wb_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per channel, on gamma-encoded values
    contrast: float = 1.0  # slope at mid-grey
    saturation: float = 1.0


@cache
def kelvin_to_linear_rgb(kelvin: float) -> tuple[float, float, float]:
    """Colour of a light at a colour temperature, as linear sRGB normalised to max 1.

    Uses colour-science (Kang 2002 CCT → xy, then xy → XYZ → linear sRGB);
    rounded so the job key does not depend on the last float bits of the library.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        colour = import_colour()

        xy = colour.temperature.CCT_to_xy(kelvin, method="Kang 2002")
        rgb = colour.XYZ_to_sRGB(colour.xy_to_XYZ(xy), apply_cctf_encoding=False)
    rgb = [max(float(c), 0.0) for c in rgb]
    peak = max(rgb)
    return tuple(round(c / peak, 4) for c in rgb)  # type: ignore[return-value]


REFERENCE_KELVIN = 6500.0  # the white point the grade's white balance is relative to (≈ D65, sRGB white)
GRADE_GAMMA = 2.2  # frames are gamma-encoded; a linear gain g is g ** (1 / 2.2) on encoded values


def white_balance_gains(kelvin: float, amount: float) -> tuple[float, float, float]:
    """Per-channel gains, on gamma-encoded RGB, that tint a frame as light of `kelvin` looks
    to a camera balanced for 6500 K, `amount` of the way (0 = no change).

    The linear shift is colour-science's colour of `kelvin` over that of 6500 K, raised
    to `amount`, normalised to keep the luminance of grey; rounded so the job key does not
    hang on the library's last bits. Warmer (lower) kelvin raises R/B, cooler lowers it.
    """
    if amount == 0.0 or kelvin == REFERENCE_KELVIN:
        return (1.0, 1.0, 1.0)
    shift = [(c / r) ** amount for c, r in zip(kelvin_to_linear_rgb(kelvin), kelvin_to_linear_rgb(REFERENCE_KELVIN))]
    luma = sum(w * c for w, c in zip(LUMA, shift))
    return tuple(round((c / luma) ** (1.0 / GRADE_GAMMA), 4) for c in shift)  # type: ignore[return-value]


def resolve_lighting(lighting: Lighting) -> Light:
    base = presets.LIGHTING[lighting.preset]
    given = lighting.model_dump(exclude_none=True)
    kelvin = float(given.get("kelvin", base["kelvin"]))
    white_balance = float(given.get("white_balance", base["white_balance"]))
    return Light(
        preset=lighting.preset,
        azimuth_deg=float(given.get("azimuth_deg", base["azimuth_deg"])),
        elevation_deg=float(given.get("elevation_deg", base["elevation_deg"])),
        kelvin=kelvin,
        key_rgb=kelvin_to_linear_rgb(kelvin),
        key=base["key"],
        ambient=base["ambient"],
        sky_top=base["sky_top"],
        sky_horizon=base["sky_horizon"],
        white_balance=white_balance,
        wb_gains=white_balance_gains(kelvin, white_balance),
        contrast=float(given.get("contrast", base["contrast"])),
        saturation=float(given.get("saturation", base["saturation"])),
    )


def lighting_phrase(light: Light) -> str:
    """The words a generative backend's prompt gets for this lighting."""
    return presets.LIGHTING[light.preset]["phrase"]
