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

    renders/s01e01.mp4      the picture (as without --languages; .mov for a ProRes or DNxHR master)
    renders/s01e01.fr.mp4   the same video packets + French subtitles, titles, chapters (.fr.mov beside a .mov)
    renders/s01e01.fr.vtt   renders/s01e01.fr.srt
    renders/s01e01.fr.burned.mp4   with --burn-titles: the titles drawn into the picture (re-encoded by
                                   the watermark's ffmpeg recipe in the delivery's own format),
                                   subtitles and chapters as text

A language delivery is in the picture's container (`.mov` beside a ProRes master). Burned titles are
drawn with the language's font (spec/fonts.py: `delivery.fonts`, default the bundled DejaVu Sans Bold),
kept by content hash in `.reelforge/assets/` like a LUT and recorded (its SHA-256, family and the burn
recipe) in the delivery's text record, so `verify` draws with exactly that file again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reelforge.deliver.options import DeliveryError
from reelforge.errors import Problem
from reelforge.media.encode import EncodeSettings
from reelforge.media.subtitles import (
    Chapter,
    Cue,
    TextTrack,
    TitleBurnError,
    burn_record,
    burn_titles,
    mux_text,
    srt,
    webvtt,
)
from reelforge.spec.base import text_in
from reelforge.spec.fonts import (
    FontError,
    FontFile,
    bundled_font,
    font_file_problems,
    font_key,
    font_path,
    read_font,
    title_glyph_problems,
)
from reelforge.spec.json_problems import json_path
from reelforge.store.assets import keep_asset, kept_copies
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
    burn: dict | None = None  # burned titles: the recipe and font they are drawn with (subtitles.burn_record)

    def tracks(self, burned_titles: bool = False) -> list[TextTrack]:
        """The text tracks to mux: subtitles, and titles unless they are drawn into the picture."""
        tracks = [TextTrack("subtitles", self.language, self.subtitles)]
        return tracks if burned_titles else tracks + [TextTrack("titles", self.language, self.titles)]

    def record(self) -> dict:
        """JSON for the catalog: enough to mux this text again, or burn it in (verify does)."""
        record = dataclasses.asdict(self)
        if record["burn"] is None:  # text tracks only: recorded as before burned titles had a font
            del record["burn"]
        return record

    @classmethod
    def from_record(cls, data: dict) -> EpisodeText:
        return cls(language=data["language"], fps=data["fps"], frames=data["frames"], title=data["title"],
                   subtitles=tuple(Cue(**c) for c in data["subtitles"]),
                   titles=tuple(Cue(**c) for c in data["titles"]),
                   chapters=tuple(Chapter(**c) for c in data["chapters"]), burn=data.get("burn"))


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


def language_output(picture: Path, language: str, suffix: str | None = None, burned_titles: bool = False) -> Path:
    """renders/s01e01.mp4 → renders/s01e01.fr.mp4 (a '.' cannot occur in an id, so names never clash); the
    picture's own suffix unless `suffix` is given (.vtt, .srt)."""
    suffix = picture.suffix if suffix is None else suffix
    return picture.with_name(f"{picture.stem}.{language}{'.burned' if burned_titles else ''}{suffix}")


# --------------------------------------------------------------------------- the fonts burned titles are drawn with


def burn_problems(production, root: Path, languages: list[str]) -> list[Problem]:
    """Why titles cannot be burned in `languages` (the same lines `reelforge validate` prints): a font file that
    cannot be read, a title with characters its language's font lacks. [] when they can."""
    fonts = production.delivery.fonts
    used = {font_key(fonts, language) for language in languages}
    unreadable = [Problem(where, message) for where, message in font_file_problems(production, root)
                  if any(where == json_path(("delivery", "fonts", key)) for key in used if key is not None)]
    return unreadable + title_glyph_problems(production, root, languages)


def title_fonts(production, root: Path, languages: list[str]) -> dict[str, FontFile]:
    """Each language's title font, kept in the production's assets (by SHA-256) so `verify` can draw with it again."""
    kept = {}
    for language in languages:
        path = font_path(production.delivery.fonts, language, root)
        try:
            kept[language] = read_font(keep_asset(path, root))
        except (FontError, OSError) as exc:
            where = json_path(("delivery", "fonts", font_key(production.delivery.fonts, language) or "*"))
            raise DeliveryError(f"{where}: {getattr(exc, 'strerror', None) or exc}") from None
    return kept


def recorded_font(burn: dict | None, root: Path | None) -> FontFile:
    """The font a burned delivery was drawn with: its kept copy (by the recorded SHA-256), or the bundled font
    (also for a delivery recorded before fonts were: it was drawn with the bundled DejaVu Sans Bold)."""
    if burn is None:
        return read_font(bundled_font())
    sha256 = burn["font"]["sha256"]
    candidates = (kept_copies(sha256, root) if root is not None else []) + [bundled_font()]
    for path in candidates:
        try:
            font = read_font(path)
        except FontError:
            continue
        if font.sha256 == sha256:
            return font
    raise DeliveryError(f"the title font {burn['font']['name']} (sha256 {sha256[:16]}…) is not among this "
                        f"production's kept files (.reelforge/assets/): put the font file back there, named "
                        f"{sha256}.ttf (or .otf), to re-create this delivery")


def localized_file(picture: Path, target: Path, text: EpisodeText, burned_titles: bool, settings: EncodeSettings,
                   workdir: Path, root: Path | None = None) -> None:
    """One unsigned language delivery from an unsigned picture: how render makes it and verify re-makes it.

    Burned titles are drawn with the font `text.burn` records, found by its SHA-256 among the kept files of
    the production at `root`.
    """
    if not burned_titles:
        mux_text(picture, target, text.tracks(), text.chapters, text.fps, text.title, settings.container)
        return
    drawn = workdir / f"{WORK_PREFIX}burned-{text.language}-{target.name}"
    try:
        burn_titles(picture, drawn, text.titles, recorded_font(text.burn, root), settings)
        mux_text(drawn, target, text.tracks(burned_titles=True), text.chapters, text.fps, text.title,
                 settings.container)
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
        """Where it is delivered, beside the picture delivery (in its container)."""
        return language_output(picture, self.text.language, burned_titles=self.burned_titles)

    def side_files(self, picture: Path) -> dict[Path, str]:
        """The WebVTT and SRT files written beside the picture (one pair per language: none for a burned copy)."""
        if self.burned_titles:
            return {}
        return {language_output(picture, self.text.language, ".vtt"): webvtt(self.text.subtitles, self.text.language),
                language_output(picture, self.text.language, ".srt"): srt(self.text.subtitles)}

    def assertion(self, picture_render_id: int | None, picture_unsigned_sha256: str) -> dict:
        """What the signed manifest says of the language delivery, beside the picture's render assertion."""
        assertion = {"language": self.text.language, "picture_render_id": picture_render_id,
                     "picture_unsigned_sha256": picture_unsigned_sha256, "subtitle_cues": len(self.text.subtitles),
                     "chapters": len(self.text.chapters), "burned_titles": self.burned_titles}
        if self.burned_titles and self.text.burn is not None:
            font = self.text.burn["font"]
            assertion["title_font"] = {"name": font["name"], "sha256": font["sha256"]}
        return assertion

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
    fonts: Mapping[str, FontFile] = dataclasses.field(default_factory=dict)  # language → its kept title font
    root: Path | None = None  # the production, whose kept files hold the fonts

    def prepare(self, picture_unsigned: Path, settings: EncodeSettings, workdir: Path) -> list[LanguageFile]:
        """Mux each language's text onto the unsigned picture (before the picture is signed)."""
        prepared = []
        try:
            for text in self.texts:
                for burned in (False, True) if self.burn_titles else (False,):
                    delivered = text
                    if burned:
                        font = self.fonts.get(text.language) or read_font(bundled_font())
                        delivered = dataclasses.replace(text, burn=burn_record(font, settings))
                    muxed = workdir / f"{WORK_PREFIX}{text.language}{'-burned' * burned}-{picture_unsigned.name}"
                    localized_file(picture_unsigned, muxed, delivered, burned, settings, workdir, self.root)
                    prepared.append(LanguageFile(delivered, burned, muxed))
        except BaseException:
            for language in prepared:
                language.unsigned.unlink(missing_ok=True)
            raise
        return prepared


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
