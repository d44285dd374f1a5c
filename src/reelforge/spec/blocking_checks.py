"""What blocking needs the whole production to check: cast, marks, the set's floor, shot lengths, overlaps.

The Production model calls `blocking_problems` (spec/model.py). Each problem is reported at the
field where it is written. A scene's (episode's, production's) entry is checked in every shot that
uses it, and reported once, naming the first shot it fails in and counting the others, as camera
keyframes are (spec/camera.py `check_keyframe_times`).

Who an entry applies to: a shot's own entry must name a character the shot casts (it is an error
otherwise); an inherited entry for a character the shot does not cast is simply not used there.
An entry at any level for a character the production does not define is an error.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from reelforge.spec.base import seconds_text
from reelforge.spec.blocking import DEFAULT_DURATION_S, MAX_SPEED_MPS, MAX_WALK_SPEED_MPS
from reelforge.spec.staging import (
    CAMERA,
    GroundPlan,
    Loc,
    Staged,
    StagedAction,
    character_entries,
    crosses_footprint,
    ground_track,
    inside_footprint,
    lineup,
    stage_character,
)

# Which actions share a part of the body: one action at a time on each track.
TRACKS = {"walk": "body", "run": "body", "turn": "body", "sit": "body", "stand": "body", "hold": "body",
          "look-at": "head", "gesture": "arms"}
TRACK_ACTIONS = {track: [a for a, t in TRACKS.items() if t == track] for track in ("body", "head", "arms")}
MIN_START_GAP_M = 0.5  # two cast members closer than this (at the start or at any frame) stand inside each other
EPSILON_S = 1e-6  # times are staged to 6 decimals

Problem = tuple[Loc, Any, str]


def blocking_problems(production: Any, warnings: list[Problem] | None = None) -> list[Problem]:
    """(location, value, message) for every blocking problem in a production, in spec order; what is
    legal but probably not meant (a walk faster than walking) goes to `warnings` when given."""
    known = [c.id for c in production.characters]
    problems: list[Problem] = _location_problems(production, known)
    problems += _unknown_character_problems(production, known)
    locations = {loc.id: loc for loc in production.locations}
    fps = production.delivery.fps
    # (location, kind) → [(shot path, level, value, message)]: an inherited entry fails in many shots
    found: dict[tuple[Loc, str], list[tuple[str, str, Any, str]]] = {}
    for e, episode in enumerate(production.episodes):
        for s, scene in enumerate(episode.scenes):
            location = locations.get(scene.location)
            if location is None:
                continue  # an unknown location is reported on its own
            ground = GroundPlan(location)
            for t, shot in enumerate(scene.shots):
                shot_loc: Loc = ("episodes", e, "scenes", s, "shots", t)
                path = f"{episode.id}/{scene.id}/{shot.id}"
                for character_id, entry in shot.blocking.items():
                    if character_id in known and character_id not in shot.cast:
                        problems.append((shot_loc + ("blocking", character_id), character_id, (
                            f"shot {path} does not cast '{character_id}' (cast: {', '.join(shot.cast) or 'nobody'}): "
                            f"add them to its 'cast' or remove this entry")))
                levels = [("shot", shot_loc, shot.blocking), ("scene", shot_loc[:4], scene.blocking),
                          ("episode", shot_loc[:2], episode.blocking), ("production", (), production.blocking)]
                notes: list[tuple[Loc, str, str, Any, str]] = []
                for loc, kind, level, value, message in _shot_problems(shot, ground, levels, known, fps, notes):
                    found.setdefault((loc, kind), []).append((path, level, value, message))
                if warnings is not None:
                    warnings += [(loc, value, message) for loc, _, _, value, message in notes
                                 if all(loc != seen for seen, _, _ in warnings)]
    for (loc, _), shots in found.items():
        path, level, value, message = shots[0]
        if level != "shot":
            message += f" (in shot {path}, which inherits this from the {level}"
            if len(shots) > 1:
                message += f"; {len(shots) - 1} more shot{'s' if len(shots) > 2 else ''} too"
            message += ")"
        problems.append((loc, value, message))
    return problems


def _shot_problems(shot: Any, ground: GroundPlan, levels: list, known: list[str], fps: int,
                   notes: list[tuple[Loc, str, str, Any, str]]) -> list[tuple[Loc, str, str, Any, str]]:
    """(location, kind, level, value, message) for the blocking one shot plays; warnings go to `notes`."""
    cast = [c for c in dict.fromkeys(shot.cast) if c in known]
    starts = dict(zip(shot.cast, lineup(len(shot.cast))))
    entries = character_entries(cast, levels)
    frames = shot.frame_count(fps)
    length = frames / fps
    out: list[tuple[Loc, str, str, Any, str]] = []
    staged: dict[str, Staged] = {}
    unsure: set[str] = set()  # whose blocking has other problems: where they are in time is not settled
    for character_id, entry in entries.items():
        stage = stage_character(character_id, entry.blocking, starts[character_id], ground, cast, known)
        staged[character_id] = stage
        found = [(loc, value, message) for loc, value, message in stage.problems]
        found += _spot_problems(stage, ground)
        found += _time_problems(character_id, stage.actions, length, frames, fps)
        if found:
            unsure.add(character_id)
        found += _prop_crossing_problems(character_id, stage, ground)
        out += [(entry.loc + loc, _kind(message), entry.level, value, message) for loc, value, message in found]
        notes += [(entry.loc + loc, _kind(message), entry.level, value, message)
                  for loc, value, message in _speed_notes(character_id, stage.actions)]
    out += _start_gap_problems(cast, entries, staged, starts)
    out += _collision_problems([c for c in cast if c not in unsure], entries, staged, starts, frames, fps)
    return out


def _kind(message: str) -> str:
    """Problems at one field are grouped across shots by what kind they are (the message's first words)."""
    return " ".join(message.split()[:3])


def _spot_problems(stage: Staged, ground: GroundPlan) -> list[Problem]:
    """A position written as [x, z] (or the spot beside a prop) must lie on the set's floor and outside every prop."""
    problems = []
    for loc, point, beside in stage.spots:
        message = _off_floor(point, ground.location)
        if message is None:
            message = _in_prop(point, ground.location, skip=beside)
        if message is not None:
            where = f"the spot beside prop '{beside.id}' ({_point(point)})" if beside is not None else _point(point)
            problems.append((loc, list(point), f"{where} {message}"))
    return problems


def _off_floor(point: tuple[float, float], location: Any) -> str | None:
    x_min, z_min, x_max, z_max = location.area_m
    if x_min <= point[0] <= x_max and z_min <= point[1] <= z_max:
        return None
    return (f"lies outside the set's floor (location {location.id}'s area_m: x from {_n(x_min)} to {_n(x_max)}, "
            f"z from {_n(z_min)} to {_n(z_max)}): move it onto the floor or widen area_m")


def _in_prop(point: tuple[float, float], location: Any, skip: Any = None) -> str | None:
    for j, prop in enumerate(location.props):
        if prop is not skip and inside_footprint(prop, point):
            return f"is inside {_prop_name(prop, j)} of location {location.id}: move it clear of the prop's footprint"
    return None


def _time_problems(character_id: str, actions: list[StagedAction], length: float, frames: int,
                   fps: int) -> list[Problem]:
    """Actions in time order, inside the shot, one at a time on each track (body, head, arms)."""
    problems: list[Problem] = []
    shot = f"the shot is {seconds_text(length)} s long ({frames} frames at {fps} fps)"
    last_on: dict[str, StagedAction] = {}
    for n, action in enumerate(actions):
        at: Loc = ("actions", action.index)
        kind = action.spec.action
        if n > 0 and action.start_s < actions[n - 1].start_s:
            problems.append((at + ("at_s",), action.spec.at_s, (
                f"actions must be in time order: this {kind} at {seconds_text(action.start_s)} s comes after one at "
                f"{seconds_text(actions[n - 1].start_s)} s (actions[{actions[n - 1].index}])")))
            continue
        if action.start_s >= length - EPSILON_S:
            problems.append((at + ("at_s",), action.spec.at_s, (
                f"{character_id}'s {kind} starts at {seconds_text(action.start_s)} s, at or after the end of the shot: {shot}")))
            continue
        if action.end_s > length + EPSILON_S:
            problems.append(_late_end(character_id, action, at, shot))
        track = TRACKS[kind]
        before = last_on.get(track)
        if before is not None and action.start_s < before.end_s - EPSILON_S:
            problems.append((at + ("at_s",), action.spec.at_s, (
                f"{character_id}'s {kind} at {seconds_text(action.start_s)} s starts before their {before.spec.action} "
                f"(actions[{before.index}], {seconds_text(before.start_s)}–{seconds_text(before.end_s)} s) ends: one {track} action "
                f"at a time ({', '.join(TRACK_ACTIONS[track])})")))
        if before is None or action.end_s >= before.end_s:
            last_on[track] = action
    return problems


def _late_end(character_id: str, action: StagedAction, at: Loc, shot: str) -> Problem:
    """An action that runs past the shot's end, reported at what sets its end."""
    spec, kind = action.spec, action.spec.action
    ends = f"{character_id}'s {kind} ends at {seconds_text(action.end_s)} s, after the end of the shot: {shot}"
    if spec.arrive_s is not None:
        return at + ("arrive_s",), spec.arrive_s, f"{ends}; arrive earlier"
    if spec.duration_s is not None:
        return at + ("duration_s",), spec.duration_s, f"{ends}; give a shorter duration_s or start earlier"
    if kind in ("walk", "run"):
        length = _path_length(action.path)
        speed = length / (action.end_s - action.start_s) if action.end_s > action.start_s else 0.0
        where = at + (("speed_mps",) if spec.speed_mps is not None else ())
        return where, spec.speed_mps, (f"{ends} ({seconds_text(length)} m at {seconds_text(speed)} m/s); start earlier, go faster "
                                       f"(speed_mps) or give arrive_s")
    return at, spec.action, (f"{ends} (a {kind} lasts {seconds_text(DEFAULT_DURATION_S[kind])} s unless duration_s says "
                             f"otherwise); start earlier or give a shorter duration_s")


def _speed_notes(character_id: str, actions: list[StagedAction]) -> list[Problem]:
    """Walks faster than walking, and walks or runs faster than anyone moves: legal (previz draws them), but
    rarely what a director means; `reelforge validate` warns, at what sets the speed."""
    notes: list[Problem] = []
    for action in actions:
        kind, spec = action.spec.action, action.spec
        if kind not in ("walk", "run") or action.end_s <= action.start_s:
            continue
        distance = _path_length(action.path)
        speed = distance / (action.end_s - action.start_s)
        limit, what = ((MAX_SPEED_MPS, "faster than anyone moves") if speed > MAX_SPEED_MPS else
                       (MAX_WALK_SPEED_MPS, "faster than a walk") if kind == "walk" and speed > MAX_WALK_SPEED_MPS
                       else (None, ""))
        if limit is None:
            continue
        where = ("arrive_s",) if spec.arrive_s is not None else ("speed_mps",) if spec.speed_mps is not None else ()
        advice = "make it a run or give a later arrive_s" if kind == "walk" and speed <= MAX_SPEED_MPS else \
            "give a later arrive_s or a nearer destination"
        notes.append((("actions", action.index) + where, spec.arrive_s or spec.speed_mps,
                      f"{character_id}'s {kind} covers {seconds_text(distance)} m in {seconds_text(action.end_s - action.start_s)} s "
                      f"({seconds_text(speed)} m/s), {what} ({_n(limit)} m/s at most): {advice}"))
    return notes


def _path_length(path: tuple | list) -> float:
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:]))


def _start_gap_problems(cast: list[str], entries: dict, staged: dict[str, Staged],
                        starts: dict[str, tuple[float, float]]) -> list[tuple[Loc, str, str, Any, str]]:
    """Two cast members may not start on the same spot: reported at the later one's mark (else the earlier's)."""
    out = []
    position = {c: staged[c].start if c in staged else starts[c] for c in cast}
    for j, second in enumerate(cast):
        for first in cast[:j]:
            gap = math.hypot(position[second][0] - position[first][0], position[second][1] - position[first][1])
            if gap >= MIN_START_GAP_M:
                continue
            marked = next((c for c in (second, first) if c in entries and entries[c].blocking.mark is not None), None)
            if marked is None:
                continue
            other = first if marked == second else second
            entry = entries[marked]
            out.append((entry.loc + ("mark",), "start gap", entry.level, entry.blocking.mark, (
                f"{marked} starts {seconds_text(gap)} m from {other} ({_point(position[marked])} and "
                f"{_point(position[other])}): cast members start at least {seconds_text(MIN_START_GAP_M)} m apart")))
            break
    return out


def _prop_crossing_problems(character_id: str, stage: Staged, ground: GroundPlan) -> list[Problem]:
    """A walk or run goes round the props: each straight stretch of its path stays out of every footprint,
    reported at the path point (or `to`) the stretch ends on. The last stretch of a walk `to` a prop ends
    beside that prop, on the walker's side; a stretch that starts or ends inside a prop is reported there."""
    problems: list[Problem] = []
    for action in stage.actions:
        spec = action.spec
        if spec.action not in ("walk", "run"):
            continue
        written = len(spec.path or ())
        for i, (a, b) in enumerate(zip(action.path, action.path[1:])):
            last = i == len(action.path) - 2
            for j, prop in enumerate(ground.location.props):
                if (last and action.prop_id is not None and prop is ground.props.get(action.prop_id)) \
                        or inside_footprint(prop, a) or inside_footprint(prop, b) or not crosses_footprint(prop, a, b):
                    continue
                at, value = ((("path", i), list(spec.path[i])) if spec.path and i < written else (("to",), spec.to))
                verb = "runs" if spec.action == "run" else "walks"
                problems.append((("actions", action.index) + at, value, (
                    f"{character_id} {verb} through {_prop_name(prop, j)} between {_point(a)} and {_point(b)}: "
                    f"add a path point around it")))
                break
    return problems


def _prop_name(prop: Any, index: int) -> str:
    return f"prop '{prop.id}'" if prop.id else f"props[{index}] (a {prop.shape} at {_point(prop.position_m)})"


def _collision_problems(cast: list[str], entries: dict, staged: dict[str, Staged],
                        starts: dict[str, tuple[float, float]], frames: int,
                        fps: int) -> list[tuple[Loc, str, str, Any, str]]:
    """Two cast members closer than MIN_START_GAP_M at any frame walk into each other; once per pair, at the
    destination of the walk that set off later (what most likely needs changing).

    Positions are sampled at every frame as previz plays them (spec/staging.py `ground_track`). Frames
    from the start while a pair is still too close are the start gap's problem (`_start_gap_problems`).
    """
    times = [index / fps for index in range(frames)]
    track = {c: ground_track(staged[c].start, staged[c].actions, times) if c in staged else [starts[c]] * frames
             for c in cast}
    walks = {c: [a for a in staged[c].actions if a.spec.action in ("walk", "run")] if c in staged else []
             for c in cast}
    out = []
    for j, second in enumerate(cast):
        for first in cast[:j]:
            if not walks[first] and not walks[second]:
                continue
            gaps = [math.hypot(p[0] - q[0], p[1] - q[1]) for p, q in zip(track[first], track[second])]
            apart = next((k for k, gap in enumerate(gaps) if gap >= MIN_START_GAP_M), None)
            if apart is None:
                continue
            close = next((k for k in range(apart, frames) if gaps[k] < MIN_START_GAP_M), None)
            if close is None:
                continue
            end = next((k for k in range(close, frames) if gaps[k] >= MIN_START_GAP_M), frames)
            nearest = min(range(close, end), key=gaps.__getitem__)
            t = times[nearest]
            started = [(a.start_s, n, c, a) for n, c in enumerate((first, second)) for a in walks[c]
                       if a.start_s <= t + EPSILON_S]
            if not started:
                continue
            _, _, walker, walk = max(started, key=lambda item: (item[0], item[1]))
            other = first if walker == second else second
            spec = walk.spec
            at, value = (("to",), spec.to) if spec.to is not None else (("path",), spec.path)
            entry = entries[walker]
            out.append((entry.loc + ("actions", walk.index) + at, "collision", entry.level, value, (
                f"{walker}'s {spec.action} (actions[{walk.index}]) comes within {seconds_text(gaps[nearest])} m of {other} at "
                f"{seconds_text(t)} s ({walker} at {_point(_rounded(track[walker][nearest]))}, {other} at "
                f"{_point(_rounded(track[other][nearest]))}): cast members keep at least {seconds_text(MIN_START_GAP_M)} m "
                f"apart; route the {spec.action} round them (a path point), start it later, or stop short")))
    return out


def _rounded(point: tuple[float, float]) -> tuple[float, float]:
    return (round(point[0], 3) + 0.0, round(point[1], 3) + 0.0)


# ----------------------------------------------------------------------------- the set and the names


def _location_problems(production: Any, characters: list[str]) -> list[Problem]:
    """Prop ids once per location, no mark named like a prop, a character or "camera" (blocking reads
    those names first, so `"to": "theo"` would mean another place in every shot that casts theo), every
    mark on the floor and outside the props."""
    problems: list[Problem] = []
    for i, location in enumerate(production.locations):
        first: dict[str, int] = {}
        for j, prop in enumerate(location.props):
            if prop.id is None:
                continue
            if prop.id in first:
                problems.append((("locations", i, "props", j, "id"), prop.id, (
                    f"duplicate prop id '{prop.id}' in location {location.id} (first used at "
                    f"$.locations[{i}].props[{first[prop.id]}].id)")))
            else:
                first[prop.id] = j
        for name, point in location.marks.items():
            loc = ("locations", i, "marks", name)
            if name in first:
                problems.append((loc, list(point), (
                    f"'{name}' names both a mark and a prop ($.locations[{i}].props[{first[name]}].id): blocking "
                    f"could not tell which is meant; rename one")))
                continue
            if name in characters or name == CAMERA:
                who = (f"a character ($.characters[{characters.index(name)}].id)" if name in characters else
                       "the camera (\"camera\" is where it starts, for turns and looks)")
                problems.append((loc, list(point), (
                    f"mark '{name}' is named like {who}: blocking could not tell the place from "
                    f"{'the cast member' if name in characters else 'the camera'}; rename the mark")))
                continue
            message = _off_floor(point, location) or _in_prop(point, location)
            if message is not None:
                problems.append((loc, list(point), f"mark '{name}' at {_point(point)} {message}"))
    return problems


def _unknown_character_problems(production: Any, known: list[str]) -> list[Problem]:
    """Every blocking entry, at any level, names a character the production defines."""
    levels: list[tuple[Loc, Any]] = [((), production.blocking)]
    for e, episode in enumerate(production.episodes):
        levels.append((("episodes", e), episode.blocking))
        for s, scene in enumerate(episode.scenes):
            levels.append((("episodes", e, "scenes", s), scene.blocking))
            levels += [(("episodes", e, "scenes", s, "shots", t), shot.blocking) for t, shot in enumerate(scene.shots)]
    problems = []
    for loc, blocking in levels:
        for character_id in blocking:
            if character_id in known:
                continue
            close = difflib.get_close_matches(character_id, known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append((loc + ("blocking", character_id), character_id, (
                f"blocking for unknown character '{character_id}': {hint}characters: {', '.join(known) or 'none'}")))
    return problems


def _n(value: float) -> str:
    return f"{value:g}"


def _point(point: Any) -> str:
    return f"[{_n(point[0])}, {_n(point[1])}]"
