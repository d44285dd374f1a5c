"""Named presets a spec may use: camera moves, lighting, styles.

Each preset is a plain dict of defaults. The spec refers to presets by name and
may override individual parameters; `reelforge.plan` merges the two into the
fully resolved values that go into a job (and its key).
"""

from __future__ import annotations

CAMERA_MOVES: dict[str, dict] = {
    # distance_m: start distance from the subject; travel_m: distance covered over the shot
    # (toward the subject for push-in, away for pull-back).
    "lock-off": {"distance_m": 6.0, "travel_m": 0.0, "height_m": 1.6, "focal_length_mm": 35.0,
                 "phrase": "static locked-off camera"},
    "push-in": {"distance_m": 7.0, "travel_m": 3.0, "height_m": 1.6, "focal_length_mm": 35.0,
                "phrase": "slow push-in toward the subject"},
    "pull-back": {"distance_m": 4.0, "travel_m": 3.5, "height_m": 1.6, "focal_length_mm": 35.0,
                  "phrase": "slow pull-back revealing the scene"},
}

LIGHTING: dict[str, dict] = {
    # azimuth: key light direction around the subject in degrees (0 = from behind the camera,
    # 90 = from the right); elevation above the horizon; kelvin: key-light colour temperature.
    "overcast": {"azimuth_deg": 20.0, "elevation_deg": 60.0, "kelvin": 6500.0,
                 "key": 0.35, "ambient": 0.65, "sky_top": "#9ea7b0", "sky_horizon": "#c9ced3",
                 "phrase": "soft overcast daylight, diffuse shadows"},
    "magic-hour": {"azimuth_deg": 65.0, "elevation_deg": 8.0, "kelvin": 3200.0,
                   "key": 0.85, "ambient": 0.30, "sky_top": "#5b7bb0", "sky_horizon": "#f2b872",
                   "phrase": "golden magic-hour sunlight, long warm shadows"},
    "hard-noon": {"azimuth_deg": 10.0, "elevation_deg": 78.0, "kelvin": 5600.0,
                  "key": 0.95, "ambient": 0.25, "sky_top": "#3f78c9", "sky_horizon": "#a9c8ea",
                  "phrase": "harsh midday sun, short hard shadows"},
}

STYLES: dict[str, dict] = {
    "gray-box": {"prompt": "previsualization, gray-box blocking", "negative": ""},
    "photorealistic": {"prompt": "photorealistic, cinematic film still, natural detail",
                       "negative": "cartoon, illustration, low quality"},
}


def check_name(kind: str, name: str, registry: dict[str, dict]) -> str:
    """Return `name` if the registry has it, else raise a ValueError that lists the known names."""
    if name not in registry:
        known = ", ".join(sorted(registry))
        raise ValueError(f"unknown {kind} '{name}'; known: {known}")
    return name
