"""Dialogue: lines spoken (or captioned) in a shot, delivered as subtitle text, never drawn into the picture.

A line's text is LocalizedText, so one spec carries every language's subtitles; its timing is
in seconds from the start of its shot, so re-cutting or re-timing another shot moves nothing.
Nothing here is part of a job key: a new translation or a re-timed line re-renders no frame.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reelforge.spec.base import LocalizedText, Strict, seconds_text


class DialogueLine(Strict):
    text: LocalizedText = Field(description="what is said, once or per language (BCP 47 tag → text)")
    speaker: str | None = Field(None, description="the character who speaks (an id under 'characters'); "
                                                  "leave it out for a narrator or a caption")
    start_s: float = Field(0.0, ge=0, description="when the line appears, in seconds from the shot's start")
    end_s: float | None = Field(None, gt=0, description="when it disappears, in seconds from the shot's start "
                                                        "(default: the shot's end)")


def dialogue_time_problems(production: Any) -> list[tuple[tuple, float, str]]:
    """(location, value, message) for each line that does not start before it ends, inside its shot.

    A shot's length is only known with the delivery's fps, so the Production model checks this;
    each problem names the line's own start_s or end_s.
    """
    fps = production.delivery.fps
    problems = []
    for e, episode in enumerate(production.episodes):
        for s, scene in enumerate(episode.scenes):
            for t, shot in enumerate(scene.shots):
                frames = shot.frame_count(fps)
                length = frames / fps
                where = ("episodes", e, "scenes", s, "shots", t, "dialogue")
                path = f"{episode.id}/{scene.id}/{shot.id}"
                shot_words = f"shot {path} ({seconds_text(length)} s: {frames} frames at {fps} fps)"
                for d, line in enumerate(shot.dialogue):
                    if line.start_s >= length:
                        problems.append((where + (d, "start_s"), line.start_s,
                                         f"line starts at {seconds_text(line.start_s)} s, after the end of {shot_words}"))
                    if line.end_s is None:
                        continue
                    if line.end_s <= line.start_s:
                        problems.append((where + (d, "end_s"), line.end_s,
                                         f"line ends at {seconds_text(line.end_s)} s, not after it starts "
                                         f"({seconds_text(line.start_s)} s)"))
                    elif line.end_s > length:
                        problems.append((where + (d, "end_s"), line.end_s,
                                         f"line ends at {seconds_text(line.end_s)} s, after the end of {shot_words}"))
    return problems


