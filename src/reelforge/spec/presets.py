"""Named presets a spec may use: camera moves and lighting (style families are JSON files).

Each preset is a plain dict of defaults. The spec refers to presets by name and
may override individual parameters; `reelforge.plan` merges the two into the
fully resolved values that go into a job (and its key).
"""

from __future__ import annotations

CAMERA_MOVES: dict[str, dict] = {
    # Every move starts from distance_m (horizontal, from the subject), height_m and
    # focal_length_mm; those three apply to the shot's first move only (a keyframe
    # continues from wherever the camera is). The other keys are the move's own
    # parameters and their defaults: a key present here is a parameter the move takes.
    #   travel_m   metres covered over the move (toward the subject for push-in and
    #              drone-aerial, away for pull-back, along `direction` for dolly);
    #              speed_mps may be given instead (metres per second over the move)
    #   angle_deg  degrees swept around the subject (orbit); or speed_deg_s instead
    #   rise_m     metres climbed over the move (drone-aerial)
    #   direction  dolly: left/right/forward/backward; orbit: left/right (the way the
    #              camera itself moves, as the operator sees it)
    #   shake      the handheld shake: largest excursion per axis (amplitude_m), largest
    #              pan/tilt (rotation_deg) and highest frequency (frequency_hz); also the
    #              defaults of the "handheld" layer on any other move
    # "{direction}" in a phrase is replaced by the resolved direction.
    "lock-off": {"distance_m": 6.0, "height_m": 1.6, "focal_length_mm": 35.0,
                 "phrase": "static locked-off camera"},
    "push-in": {"distance_m": 7.0, "travel_m": 3.0, "height_m": 1.6, "focal_length_mm": 35.0,
                "phrase": "slow push-in toward the subject"},
    "pull-back": {"distance_m": 4.0, "travel_m": 3.5, "height_m": 1.6, "focal_length_mm": 35.0,
                  "phrase": "slow pull-back revealing the scene"},
    "dolly": {"distance_m": 6.0, "travel_m": 2.0, "direction": "right", "height_m": 1.6, "focal_length_mm": 35.0,
              "phrase": "smooth dolly shot tracking {direction}"},
    "orbit": {"distance_m": 6.0, "angle_deg": 45.0, "direction": "right", "around_m": None, "height_m": 1.6,
              "focal_length_mm": 35.0, "phrase": "slow arc shot orbiting {direction} around the subject"},
    "drone-aerial": {"distance_m": 16.0, "travel_m": 8.0, "rise_m": 8.0, "height_m": 6.0, "focal_length_mm": 24.0,
                     "phrase": "aerial drone shot rising and flying forward, high angle looking down"},
    "handheld": {"distance_m": 5.0, "height_m": 1.6, "focal_length_mm": 35.0,
                 "shake": {"amplitude_m": 0.015, "rotation_deg": 0.4, "frequency_hz": 1.5},
                 "phrase": "handheld camera, subtle natural shake"},
}

LIGHTING: dict[str, dict] = {
    # azimuth: key light direction around the subject in degrees (0 = from behind the camera,
    # 90 = from the right); elevation above the horizon; kelvin: key-light colour temperature.
    # key / ambient: light levels on the previz; sky_top / sky_horizon: the previz sky (sRGB).
    # Grade, applied to every backend's frames: white_balance is the fraction of the colour
    # shift a camera balanced for 6500 K would see under `kelvin` (0 = none, 1 = all of it);
    # contrast is the slope at mid-grey (1 = unchanged); saturation scales chroma (1 = unchanged).
    "overcast": {"azimuth_deg": 20.0, "elevation_deg": 60.0, "kelvin": 6500.0,
                 "key": 0.35, "ambient": 0.65, "sky_top": "#9ea7b0", "sky_horizon": "#c9ced3",
                 "white_balance": 0.5, "contrast": 1.0, "saturation": 1.0,  # the default: a neutral grade
                 "phrase": "soft overcast daylight, diffuse shadows"},
    "magic-hour": {"azimuth_deg": 65.0, "elevation_deg": 8.0, "kelvin": 3200.0,
                   "key": 0.85, "ambient": 0.30, "sky_top": "#5b7bb0", "sky_horizon": "#f2b872",
                   "white_balance": 0.45, "contrast": 1.05, "saturation": 1.15,
                   "phrase": "golden magic-hour sunlight, long warm shadows"},
    "blue-hour": {"azimuth_deg": -110.0, "elevation_deg": 4.0, "kelvin": 11000.0,
                  "key": 0.30, "ambient": 0.50, "sky_top": "#1f2f66", "sky_horizon": "#7d88b8",
                  "white_balance": 0.5, "contrast": 0.95, "saturation": 0.9,
                  "phrase": "blue hour twilight, cool soft light, deep blue sky"},
    "neon-night": {"azimuth_deg": -70.0, "elevation_deg": 12.0, "kelvin": 8500.0,
                   "key": 0.60, "ambient": 0.14, "sky_top": "#12081f", "sky_horizon": "#3b1552",
                   "white_balance": 0.6, "contrast": 1.2, "saturation": 1.35,
                   "phrase": "neon-lit night, saturated magenta and cyan signs, deep shadows, wet reflections"},
    "hard-noon": {"azimuth_deg": 10.0, "elevation_deg": 78.0, "kelvin": 5600.0,
                  "key": 0.95, "ambient": 0.25, "sky_top": "#3f78c9", "sky_horizon": "#a9c8ea",
                  "white_balance": 0.5, "contrast": 1.15, "saturation": 1.05,
                  "phrase": "harsh midday sun, short hard shadows"},
    "practical": {"azimuth_deg": 40.0, "elevation_deg": 20.0, "kelvin": 2700.0,
                  "key": 0.70, "ambient": 0.18, "sky_top": "#2b2520", "sky_horizon": "#4d3d2e",
                  "white_balance": 0.4, "contrast": 1.1, "saturation": 0.95,
                  "phrase": "interior lit by warm tungsten practical lamps, pools of light, dark corners"},
}

# Style families are JSON files, not presets here: the built-ins in reelforge/styles/*.json and a
# production's own in styles/ beside its spec (reelforge.spec.styles, docs/styles.md).


def check_name(kind: str, name: str, registry: dict[str, dict]) -> str:
    """Return `name` if the registry has it, else raise a ValueError that lists the known names."""
    if name not in registry:
        known = ", ".join(sorted(registry))
        raise ValueError(f"unknown {kind} '{name}'; known: {known}")
    return name
