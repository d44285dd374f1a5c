"""A shot's camera, fully resolved from its presets and overrides: the moves the previz plays.

Everything here is part of the job key. A move's speed is kept as given (not turned
into a distance) because the span it applies over is known from the shot's length,
which previz reads from the job; either way the key covers it.
"""

from __future__ import annotations

from reelforge.plan.base import Frozen
from reelforge.spec import presets
from reelforge.spec.camera import Camera, Handheld, MoveParameters


class MoveJob(Frozen):
    """One move with its parameters resolved: exactly one of an amount and a speed is set
    for moves that travel (travel_m / speed_mps; orbit: angle_deg / speed_deg_s)."""

    move: str
    easing: str  # a name or "cubic-bezier(x1, y1, x2, y2)"
    travel_m: float | None = None
    speed_mps: float | None = None
    angle_deg: float | None = None
    speed_deg_s: float | None = None
    rise_m: float | None = None
    direction: str | None = None
    zoom_to_mm: float | None = None  # None: the focal length holds
    around_m: tuple[float, float] | None = None  # orbit pivot (x, z); None: the point the camera looks at


class KeyframeJob(MoveJob):
    """A move that starts at_s seconds into the shot, from wherever the camera is then."""

    at_s: float


class HandheldJob(Frozen):
    """The shake: largest offset per axis, largest pan/tilt, highest frequency, and when it starts."""

    amplitude_m: float
    rotation_deg: float
    frequency_hz: float
    from_s: float  # 0 for a handheld shot; a "handheld" keyframe's time when the shake starts there


class CameraPath(MoveJob):
    """The shot's first move (with where the camera starts), its keyframed moves, any shake, and
    the cast members it moves with (follow) and aims at (look_at), by character id."""

    distance_m: float
    height_m: float
    focal_length_mm: float
    handheld: HandheldJob | None = None
    keyframes: tuple[KeyframeJob, ...] = ()
    follow: str | None = None
    look_at: str | None = None


def _resolve_move(spec: MoveParameters) -> dict:
    """A move's parameters: the spec's where given, else the preset's; a speed replaces an amount."""
    base = presets.CAMERA_MOVES[spec.move]
    out: dict = {"move": spec.move, "easing": spec.easing}
    for amount, speed in (("travel_m", "speed_mps"), ("angle_deg", "speed_deg_s")):
        if amount not in base:
            continue
        if getattr(spec, speed) is not None:
            out[speed] = float(getattr(spec, speed))
        else:
            out[amount] = float(getattr(spec, amount) if getattr(spec, amount) is not None else base[amount])
    if "rise_m" in base:
        out["rise_m"] = float(spec.rise_m if spec.rise_m is not None else base["rise_m"])
    if "direction" in base:
        out["direction"] = spec.direction or base["direction"]
    if spec.move == "orbit" and spec.around_m is not None:
        out["around_m"] = (float(spec.around_m[0]), float(spec.around_m[1]))
    if spec.zoom_to_mm is not None:
        out["zoom_to_mm"] = float(spec.zoom_to_mm)
    return out


def _resolve_handheld(camera: Camera) -> HandheldJob | None:
    """The shake's parameters (spec over the handheld preset) and start, or None for a steady camera."""
    if camera.handheld is False:
        return None
    if camera.handheld is not None or camera.move == "handheld":
        from_s = 0.0
    else:
        from_s = next((k.at_s for k in camera.keyframes if k.move == "handheld"), None)
        if from_s is None:
            return None
    given = camera.handheld if isinstance(camera.handheld, Handheld) else Handheld()
    shake = presets.CAMERA_MOVES["handheld"]["shake"]
    return HandheldJob(from_s=float(from_s), **{name: float(getattr(given, name) if getattr(given, name) is not None
                                                            else shake[name]) for name in shake})


def resolve_camera(camera: Camera) -> CameraPath:
    base = presets.CAMERA_MOVES[camera.move]
    start = {name: float(getattr(camera, name) if getattr(camera, name) is not None else base[name])
             for name in ("distance_m", "height_m", "focal_length_mm")}
    keyframes = tuple(KeyframeJob(at_s=float(k.at_s), **_resolve_move(k)) for k in camera.keyframes)
    return CameraPath(**_resolve_move(camera), **start, handheld=_resolve_handheld(camera), keyframes=keyframes,
                      follow=camera.follow, look_at=camera.look_at)


def _move_phrase(move: MoveJob, focal_mm: float) -> tuple[str, float]:
    """A move's words (with any zoom) and the focal length it leaves the lens at."""
    phrase = presets.CAMERA_MOVES[move.move]["phrase"].format(direction=move.direction or "")
    if move.zoom_to_mm is not None and move.zoom_to_mm != focal_mm:
        phrase += " while zooming in" if move.zoom_to_mm > focal_mm else " while zooming out"
        focal_mm = move.zoom_to_mm
    return phrase, focal_mm


def camera_phrase(camera: CameraPath) -> str:
    """The words a generative backend's prompt gets: the moves in order, then any handheld shake,
    then following or framing a character (a camera that does neither reads as it always did)."""
    phrases, focal = [], camera.focal_length_mm
    for move in (camera, *camera.keyframes):
        phrase, focal = _move_phrase(move, focal)
        phrases.append(phrase)
    text = ", then ".join(phrases)
    if camera.handheld is not None and not any(m.move == "handheld" for m in (camera, *camera.keyframes)):
        text += ", handheld camera"
    if camera.follow is not None:
        text += ", tracking shot following the subject"
    elif camera.look_at is not None:
        text += ", camera panning to keep the subject framed"
    return text

