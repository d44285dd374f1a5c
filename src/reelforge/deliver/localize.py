"""Localization without re-rendering: one picture, a delivery per language with its text beside it.

Prompts are resolved in the production's source language only (plan/jobs.py), so titles, briefs
and dialogue in other languages never reach a job key. A language delivery is the episode's
*unsigned* picture delivery, its packets copied as they are, plus (media/subtitles.py):

* a mov_text subtitle track: the shots' dialogue lines in that language,
* a mov_text title track, styled (bold, larger, top centre) and marked forced: the episode title
  and each scene's title as the scene begins,
* chapters at scene starts named with the localized scene titles,

muxed before signing, then signed and recorded like any delivery, with WebVTT and SRT files
beside it. Text missing in a language falls back to the source language (`reelforge validate`
warns about it). Delivering a language later needs no re-encode: the picture is re-joined from
the stored segments by stream copy, and a new text track costs a mux.

    renders/s01e01.mp4      the picture (as without --languages)
    renders/s01e01.fr.mp4   the same video packets + French subtitles, titles, chapters
    renders/s01e01.fr.vtt   renders/s01e01.fr.srt
    renders/s01e01.fr.burned.mp4   with --burn-titles: the titles drawn into the picture (re-encoded by
                                   the watermark's ffmpeg recipe), subtitles and chapters as text
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reelforge.deliver.options import DeliveryError
from reelforge.media.encode import EncodeSettings
from reelforge.media.subtitles import (
    Chapter,
    Cue,
    TextTrack,
    TitleBurnError,
    burn_titles,
    mux_text,
    srt,
    webvtt,
)
from reelforge.spec.base import text_in
from reelforge.store.paths import WORK_PREFIX
from reelforge.store.schema import LocalizedDelivery

TITLE_SECONDS = 4  # a scene's title shows this long (or for the whole scene, if shorter)


@dataclass(frozen=True)
class EpisodeText:
    """Every piece of text one language delivery of an episode carries, timed on the episode."""

    language: str
    fps: int
    frames: int
    title: str  # the container's title: series and episode, localized
    subtitles: tuple[Cue, ...]
    titles: tuple[Cue, ...]
    chapters: tuple[Chapter, ...]

    def tracks(self, burned_titles: bool = False) -> list[TextTrack]:
        """The text tracks to mux: subtitles, and titles unless they are drawn into the picture."""
        tracks = [TextTrack("subtitles", self.language, self.subtitles)]
        return tracks if burned_titles else tracks + [TextTrack("titles", self.language, self.titles)]

    def record(self) -> dict:
        """JSON for the catalog: enough to mux this text again (verify does)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, data: dict) -> EpisodeText:
        return cls(language=data["language"], fps=data["fps"], frames=data["frames"], title=data["title"],
                   subtitles=tuple(Cue(**c) for c in data["subtitles"]),
                   titles=tuple(Cue(**c) for c in data["titles"]),
                   chapters=tuple(Chapter(**c) for c in data["chapters"]))


def _ms(seconds: float) -> int:
    """Seconds to whole milliseconds, halves up (as shot lengths round to frames)."""
    return math.floor(seconds * 1000 + 0.5)


def episode_text(production, episode_plan, language: str) -> EpisodeText:
    """The text of one episode in `language`, timed on the frames the plan delivers.

    Each shot starts where the previous one ended (its frame count from the plan); a dialogue
    line's times are seconds from its shot's start, and a line without an end lasts to the
    shot's end.
    """
    source = production.language
    fps = production.delivery.fps
    episode = production.episode(episode_plan.episode_id)
    frames_of = {job.shot_path: job.frames for job in episode_plan.jobs}

    def say(text) -> str:
        # blank lines dropped: a blank line ends a WebVTT/SRT cue (also one converted from the mov_text track)
        return "\n".join(line.strip() for line in text_in(text, language, source).splitlines() if line.strip())

    def frame_ms(frame: int) -> int:
        return _ms(frame / fps)

    subtitles, titles, chapters = [], [], []
    position = 0
    for scene in episode.scenes:
        scene_start = position
        for shot in scene.shots:
            frames = frames_of[f"{episode.id}/{scene.id}/{shot.id}"]
            start_s = position / fps
            for line in shot.dialogue:
                end_s = line.end_s if line.end_s is not None else frames / fps
                voice = say(production.character(line.speaker).name) if line.speaker else ""
                subtitles.append(Cue(_ms(start_s + line.start_s), _ms(start_s + end_s), say(line.text), voice))
            position += frames
        scene_title = say(scene.title)
        chapters.append(Chapter(scene_start, position, scene_title.replace("\n", " ") or scene.id))
        shown = [say(episode.title)] if scene_start == 0 else []
        text = "\n".join(part for part in shown + [scene_title] if part)
        if text:
            titles.append(Cue(frame_ms(scene_start), frame_ms(min(position, scene_start + TITLE_SECONDS * fps)), text))
    heading = " — ".join(part for part in (say(production.series.title), say(episode.title)) if part)
    subtitles.sort(key=lambda cue: (cue.start_ms, cue.end_ms))  # stable: lines of one shot keep spec order
    return EpisodeText(language, fps, position, heading, tuple(subtitles), tuple(titles), tuple(chapters))


def language_output(picture: Path, language: str, suffix: str = ".mp4", burned_titles: bool = False) -> Path:
    """renders/s01e01.mp4 → renders/s01e01.fr.mp4 (a '.' cannot occur in an id, so names never clash)."""
    return picture.with_name(f"{picture.stem}.{language}{'.burned' if burned_titles else ''}{suffix}")


def localized_file(picture: Path, target: Path, text: EpisodeText, burned_titles: bool, settings: EncodeSettings,
                   workdir: Path) -> None:
    """One unsigned language delivery from an unsigned picture: how render makes it and verify re-makes it."""
    if not burned_titles:
        mux_text(picture, target, text.tracks(), text.chapters, text.fps, text.title)
        return
    drawn = workdir / f"{WORK_PREFIX}burned-{text.language}-{target.name}"
    try:
        burn_titles(picture, drawn, text.titles, settings=settings)
        mux_text(drawn, target, text.tracks(burned_titles=True), text.chapters, text.fps, text.title)
    except TitleBurnError as exc:
        raise DeliveryError(f"--burn-titles: {exc}") from None
    finally:
        drawn.unlink(missing_ok=True)


@dataclass(frozen=True)
class LanguageFile:
    """One language delivery muxed onto the unsigned picture, ready to be signed beside it."""

    text: EpisodeText
    burned_titles: bool
    unsigned: Path

    def output(self, picture: Path) -> Path:
        """Where it is delivered, beside the picture delivery."""
        return language_output(picture, self.text.language, burned_titles=self.burned_titles)

    def side_files(self, picture: Path) -> dict[Path, str]:
        """The WebVTT and SRT files written beside the picture (one pair per language: none for a burned copy)."""
        if self.burned_titles:
            return {}
        return {language_output(picture, self.text.language, ".vtt"): webvtt(self.text.subtitles, self.text.language),
                language_output(picture, self.text.language, ".srt"): srt(self.text.subtitles)}

    def assertion(self, picture_render_id: int | None, picture_unsigned_sha256: str) -> dict:
        """What the signed manifest says of the language delivery, beside the picture's render assertion."""
        return {"language": self.text.language, "picture_render_id": picture_render_id,
                "picture_unsigned_sha256": picture_unsigned_sha256, "subtitle_cues": len(self.text.subtitles),
                "chapters": len(self.text.chapters), "burned_titles": self.burned_titles}

    def record(self, render_id: int, picture_render_id: int | None) -> LocalizedDelivery:
        """The catalog row that lets `verify` mux exactly this text onto the recorded picture again."""
        return LocalizedDelivery(
            render_id=render_id, picture_render_id=picture_render_id, language=self.text.language,
            burned_titles=self.burned_titles,
            text_json=json.dumps(self.text.record(), sort_keys=True, ensure_ascii=False),
            webvtt_sha256=_sha(webvtt(self.text.subtitles, self.text.language)),
            srt_sha256=_sha(srt(self.text.subtitles)))


@dataclass(frozen=True)
class Localization:
    """The language deliveries to make of one episode render."""

    texts: Sequence[EpisodeText]
    burn_titles: bool = False  # also a delivery per language with the titles drawn into the picture

    def prepare(self, picture_unsigned: Path, settings: EncodeSettings, workdir: Path) -> list[LanguageFile]:
        """Mux each language's text onto the unsigned picture (before the picture is signed)."""
        prepared = []
        try:
            for text in self.texts:
                for burned in (False, True) if self.burn_titles else (False,):
                    muxed = workdir / f"{WORK_PREFIX}{text.language}{'-burned' * burned}-{picture_unsigned.name}"
                    localized_file(picture_unsigned, muxed, text, burned, settings, workdir)
                    prepared.append(LanguageFile(text, burned, muxed))
        except BaseException:
            for language in prepared:
                language.unsigned.unlink(missing_ok=True)
            raise
        return prepared


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
