"""Camera moves as a director names them: a move preset, the parameters it overrides, keyframes.

    "camera": {"move": "lock-off", "handheld": true,
               "keyframes": [{"at_s": 1.0, "move": "push-in", "travel_m": 1.5, "easing": "ease-in"},
                             {"at_s": 2.0, "move": "orbit", "angle_deg": 30, "direction": "left"}]}

The camera's own move starts the shot; each keyframe starts a new move at its time,
from wherever the camera is then. A parameter a move does not take is an error, not
something silently ignored (it would still change the job key).

With blocking, the camera can move with a cast member and aim at one (the same or another):

    "camera": {"move": "orbit", "follow": "mara", "look_at": "theo"}

`follow` carries the whole rig with the character's walk (the offset the framing set is
kept; an orbit circles them), `look_at` keeps the aim on the character's chest, frame by
frame. Whoever is named must be cast in every shot that uses the camera.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from reelforge.spec import presets
from reelforge.spec.base import Id, Strict, seconds_text
from reelforge.spec.easing import canonical_easing

# A move's speed stands in for its amount over the move (amount = speed × the move's span).
SPEED_OF = {"travel_m": "speed_mps", "angle_deg": "speed_deg_s"}
MOVE_PARAMETERS = ("travel_m", "speed_mps", "angle_deg", "speed_deg_s", "rise_m", "direction", "around_m")
SIDEWAYS = ("left", "right")

Easing = str | list[float]


def takes(move: str) -> set[str]:
    """The move-specific parameters a move accepts: its preset's keys, plus their speed forms."""
    base = presets.CAMERA_MOVES[move]
    names = {name for name in MOVE_PARAMETERS if name in base}
    return names | {SPEED_OF[name] for name in names if name in SPEED_OF}


class Handheld(Strict):
    """Seeded, band-limited shake layered on the move; unset values come from the handheld preset."""

    amplitude_m: float | None = Field(None, ge=0, le=0.5, description="largest camera offset on each axis")
    rotation_deg: float | None = Field(None, ge=0, le=10, description="largest pan and tilt of the aim")
    frequency_hz: float | None = Field(None, gt=0, le=10, description="cutoff: no shake faster than this")


class MoveParameters(Strict):
    """What a move does; shared by the camera's first move and its keyframes."""

    move: str = "lock-off"
    easing: Easing = Field("ease-in-out", description="linear, ease-in, ease-out, ease-in-out, or CSS control "
                                                      "points: \"cubic-bezier(x1, y1, x2, y2)\" or [x1, y1, x2, y2]")
    travel_m: float | None = Field(None, ge=0, le=1000, description="metres covered over the move "
                                                                    "(push-in, pull-back, dolly, drone-aerial)")
    speed_mps: float | None = Field(None, gt=0, le=100, description="instead of travel_m: metres per second")
    angle_deg: float | None = Field(None, ge=0, le=3600, description="degrees an orbit sweeps over the move")
    speed_deg_s: float | None = Field(None, gt=0, le=360, description="instead of angle_deg: degrees per second")
    rise_m: float | None = Field(None, ge=0, le=500, description="metres a drone-aerial climbs over the move")
    direction: Literal["left", "right", "forward", "backward"] | None = Field(
        None, description="dolly: left/right/forward/backward; orbit: left/right (the way the camera moves)")
    zoom_to_mm: float | None = Field(None, ge=8, le=300, description="focal length the lens zooms to over the move")
    around_m: tuple[Annotated[float, Field(ge=-10000, le=10000)], Annotated[float, Field(ge=-10000, le=10000)]] | None = (
        Field(None, description="orbit: the point on the ground (x, z in metres) the camera circles, carrying its "
                                "aim around with it; default: the point it looks at (the subject)"))

    @field_validator("move")
    @classmethod
    def _known_move(cls, v: str) -> str:
        return presets.check_name("camera move", v, presets.CAMERA_MOVES)

    @field_validator("easing")
    @classmethod
    def _easing(cls, v: Easing) -> str:
        return canonical_easing(v)

    @field_validator(*MOVE_PARAMETERS)
    @classmethod
    def _taken_by_move(cls, v: Any, info: ValidationInfo) -> Any:
        move, name = info.data.get("move"), info.field_name
        if move is None or v is None:  # an unknown move is reported on its own
            return v
        if name not in takes(move):
            movers = sorted(m for m in presets.CAMERA_MOVES if name in takes(m))
            raise ValueError(f"'{name}' does not apply to a {move} move; it applies to: {', '.join(movers)}")
        if name == "direction" and move == "orbit" and v not in SIDEWAYS:
            raise ValueError(f"an orbit goes 'left' or 'right', not '{v}'")
        amount = next((a for a, s in SPEED_OF.items() if s == name), None)
        if amount is not None and info.data.get(amount) is not None:
            raise ValueError(f"give either '{amount}' (over the move) or '{name}' (per second), not both")
        return v


class CameraKeyframe(MoveParameters):
    """A new move starting at_s seconds into the shot, from wherever the camera is then."""

    move: str = Field(description="the move that starts here")
    at_s: float = Field(gt=0, le=3600, description="seconds from the start of the shot")


class Camera(MoveParameters):
    """A camera move by preset name; the preset gives defaults for every parameter."""

    distance_m: float | None = Field(None, gt=0, le=1000, description="camera distance from the subject at the start")
    height_m: float | None = Field(None, gt=0, le=200, description="camera height at the start")
    focal_length_mm: float | None = Field(None, ge=8, le=300, description="focal length at the start")
    handheld: bool | Handheld | None = Field(None, description="shake on top of every move: true, or "
                                                               "{amplitude_m, rotation_deg, frequency_hz}")
    keyframes: list[CameraKeyframe] = Field([], description="moves that start later in the shot, in time order")
    follow: Id | None = Field(None, description="a cast member the camera moves with: the rig keeps its offset "
                                                "from them as they walk (an orbit circles them)")
    look_at: Id | None = Field(None, description="a cast member the camera aims at, frame by frame, wherever "
                                                 "they walk (the moves still place the camera)")

    @model_validator(mode="after")
    def _keyframes_in_order(self) -> Camera:
        problems = []
        for index in range(1, len(self.keyframes)):
            before, after = self.keyframes[index - 1].at_s, self.keyframes[index].at_s
            if after <= before:
                problems.append((("keyframes", index, "at_s"), after,
                                 (f"keyframes must be in time order: {seconds_text(after)} s is not after the "
                                 f"keyframe before it ({seconds_text(before)} s)")))
        if self.handheld is False:
            shaking = [self.move] + [k.move for k in self.keyframes]
            if "handheld" in shaking:
                problems.append((("handheld",), False, ("handheld is false, but the move 'handheld' shakes the "
                                                       "camera; remove one of the two")))
        raise_at(problems, "Camera")
        return self


def raise_at(problems: Iterable[tuple[tuple, Any, str]], title: str) -> None:
    """Raise one ValidationError for (location, value, message) problems, each at its own location.

    A validator's own ValueError is reported at the object it validates; these locations
    reach inside it (like a keyframe's at_s), so `reelforge validate` names the exact field.
    """
    details = [InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
               for loc, value, message in problems]
    if details:
        raise ValidationError.from_exception_data(title, details)


CAMERA_LEVELS = ("shot", "scene", "episode", "production")


def shot_cameras(production: Any) -> Iterable[tuple[Any, Any, Any, Any, tuple, str]]:
    """(episode, scene, shot, camera, the camera's JSON location, the level it is written at) for
    every shot: the shot's own camera, else the nearest one it inherits."""
    for e, episode in enumerate(production.episodes):
        for s, scene in enumerate(episode.scenes):
            for t, shot in enumerate(scene.shots):
                levels = [(shot.camera, ("episodes", e, "scenes", s, "shots", t, "camera")),
                          (scene.camera, ("episodes", e, "scenes", s, "camera")),
                          (episode.camera, ("episodes", e, "camera")),
                          (production.camera, ("camera",))]
                (camera, where), level = next((item, level) for item, level in zip(levels, CAMERA_LEVELS)
                                              if item[0] is not None)
                yield episode, scene, shot, camera, where, level


def check_cameras(production: Any) -> None:
    """Check what only the whole production knows about its cameras; one error listing every problem."""
    raise_at(keyframe_time_problems(production) + camera_cast_problems(production), "Production")


def keyframe_time_problems(production: Any) -> list[tuple[tuple, Any, str]]:
    """Every keyframe of every shot's camera (its own or inherited) starts before the shot's last frame.

    Only the whole production knows a shot's length in frames (fps is in its delivery)
    and which camera a shot inherits, so the Production model calls this. Errors name
    the keyframe where it is written; a camera shared by several shots names the first
    shot it does not fit and counts the others.
    """
    fps = production.delivery.fps
    misfits: dict[tuple, list[tuple[str, str, float, int]]] = {}
    for episode, scene, shot, camera, where, level in shot_cameras(production):
        frames = shot.frame_count(fps)
        last = (frames - 1) / fps
        for k, keyframe in enumerate(camera.keyframes):
            if keyframe.at_s >= last:
                path = f"{episode.id}/{scene.id}/{shot.id}"
                misfits.setdefault(where + ("keyframes", k, "at_s"), []).append((path, level, keyframe.at_s, frames))
    problems = []
    for loc, shots in misfits.items():
        path, level, at_s, frames = shots[0]
        message = (f"keyframe at {seconds_text(at_s)} s does not start inside shot {path}, whose last frame is at "
                   f"{seconds_text((frames - 1) / fps)} s ({frames} frames at {fps} fps)")
        message += _shared_camera(level, len(shots) - 1, ("is too short for it as well", "are too short for it as well"))
        problems.append((loc, at_s, message))
    return problems


def camera_cast_problems(production: Any) -> list[tuple[tuple, Any, str]]:
    """A camera's `follow` and `look_at` name a cast member of every shot that uses the camera.

    Errors name the field where it is written; a camera shared by several shots names the
    first shot that does not cast the character and counts the others.
    """
    misfits: dict[tuple, list[tuple[str, str, str, list[str]]]] = {}
    for episode, scene, shot, camera, where, level in shot_cameras(production):
        for field in ("follow", "look_at"):
            who = getattr(camera, field)
            if who is not None and who not in shot.cast:
                misfits.setdefault(where + (field,), []).append(
                    (who, f"{episode.id}/{scene.id}/{shot.id}", level, list(shot.cast)))
    problems = []
    characters = [c.id for c in production.characters]
    for loc, shots in misfits.items():
        who, path, level, cast = shots[0]
        verb = "follows" if loc[-1] == "follow" else "looks at"
        if who not in characters:
            close = difflib.get_close_matches(who, cast or characters, n=1, cutoff=0.6)
            message = (f"the camera {verb} '{who}', who is no character of this production"
                       + (f"; did you mean '{close[0]}'?" if close else
                          f" (characters: {', '.join(characters) or 'none'})"))
        else:
            message = (f"the camera {verb} '{who}', who is not cast in shot {path} "
                       f"({'cast: ' + ', '.join(cast) if cast else 'it casts no one'}); add '{who}' to the shot's "
                       f"cast or name a cast member")
        message += _shared_camera(level, len(shots) - 1, (f"does not cast '{who}' either", f"do not cast '{who}' either"))
        problems.append((loc, who, message))
    return problems


def _shared_camera(level: str, others: int, predicate: tuple[str, str]) -> str:
    """What a problem with an inherited or shared camera adds: where the camera comes from, and how many
    other shots using it have the same problem (`predicate`: what one of them / several of them do)."""
    note = f"; the shot inherits this camera from the {level}" if level != "shot" else ""
    if others > 0:
        note += f"; {others} more shot{'s' if others > 1 else ''} using this camera {predicate[others > 1]}"
    return note
