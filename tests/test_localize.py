"""Localization: one picture, a delivery per language with subtitles, titles and chapters as text.

The production is rendered once per module (plain, then with --languages en,fr: all reused);
the tests read what was delivered.
"""

from __future__ import annotations

import json
import sqlite3
from fractions import Fraction
from pathlib import Path

import av
import pytest
from conftest import copy_production, run_cli, small_spec, unblocked, write_spec

FPS = 24  # the small spec: three shots of 8 frames, sc01/sh01, sc01/sh02, sc02/sh01


def localized_spec() -> dict:
    spec = unblocked(small_spec())  # cut to 8 frames, the example's walks would be warned about as too fast
    spec["languages"] = ["en", "fr", "ja"]
    episode = spec["episodes"][0]
    episode["title"] = {"en": "The Lamp", "fr": "La lampe", "ja": "灯り"}
    first, second = episode["scenes"]
    first["title"] = {"en": "Dusk on the quay", "fr": "Crépuscule sur le quai", "ja": "波止場の夕暮れ"}
    first["brief"] = {"en": "They meet", "fr": "Ils se retrouvent", "ja": "出会い"}
    second["title"] = {"en": "The alley", "fr": "La ruelle", "ja": "路地"}
    first["shots"][0]["dialogue"] = [
        {"text": {"en": "Is the lamp lit?", "fr": "La lampe est allumée ?", "ja": "灯りはついてる？"},
         "speaker": "mara", "start_s": 0.05, "end_s": 0.3}]
    first["shots"][1]["dialogue"] = [  # overlapping lines: a mov_text track shows them together
        {"text": {"en": "Not yet <soon> & then", "fr": "Pas encore & bientôt", "ja": "まだだ"}, "speaker": "theo"},
        {"text": {"en": "(waves)", "fr": "(vagues)", "ja": "（波）"}, "start_s": 0.1, "end_s": 0.2}]
    second["shots"][0]["dialogue"] = [{"text": {"en": "Later.", "fr": "Plus tard.", "ja": "あとで。"}}]
    return spec


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """Rendered plain first (as before this feature), then with --languages en,fr."""
    spec = write_spec(tmp_path_factory.mktemp("loc") / "show", localized_spec())
    run_cli("render", str(spec))
    plain = sorted(p.name for p in (spec.parent / "renders").iterdir())
    assert plain == ["contact-sheet.png", "s01e01.mp4"]  # no --languages: exactly the picture, as before
    first = catalog_rows(spec, "SELECT unsigned_sha256 FROM deliveries ORDER BY render_id")[0][0]
    result = run_cli("render", str(spec), "--languages", "en,fr")
    assert "s01e01.fr.mp4" in result.stdout
    picture = catalog_rows(spec, "SELECT d.unsigned_sha256, r.shots_rendered FROM deliveries d JOIN renders r "
                                 "ON r.id = d.render_id WHERE r.output_path LIKE '%s01e01.mp4' ORDER BY r.id")
    assert picture[-1] == (first, 0)  # the picture is the same unsigned stream; nothing rendered again
    return spec


def catalog_rows(spec: Path, query: str) -> list[tuple]:
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        return db.execute(query).fetchall()


def video_packets(path: Path) -> tuple[bytes, list[tuple]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts, p.is_keyframe, bytes(p)) for p in container.demux(stream) if p.size]
        return bytes(stream.codec_context.extradata), packets


def text_tracks(path: Path) -> dict[str, dict]:
    """handler name → language, disposition and its non-empty samples as (start ms, end ms, text)."""
    tracks: dict[int, dict] = {}
    with av.open(str(path)) as container:
        for stream in container.streams.subtitles:
            tracks[stream.index] = {"name": stream.metadata["handler_name"], "language": stream.metadata["language"],
                                    "disposition": int(stream.disposition), "cues": []}
        for packet in container.demux():
            if packet.stream.index in tracks and packet.size:
                data = bytes(packet)
                text = data[2:2 + int.from_bytes(data[:2], "big")].decode("utf-8")  # tx3g sample: length + text
                if text:
                    ms = packet.time_base * 1000
                    tracks[packet.stream.index]["cues"].append(
                        (int(packet.pts * ms), int((packet.pts + packet.duration) * ms), text))
    return {track["name"]: track for track in tracks.values()}


def test_language_deliveries_carry_the_pictures_video_packets_unchanged(rendered):
    renders = rendered.parent / "renders"
    picture = video_packets(renders / "s01e01.mp4")
    assert len(picture[1]) == 24
    for language in ("en", "fr"):
        assert video_packets(renders / f"s01e01.{language}.mp4") == picture


def test_subtitle_and_title_tracks_are_tagged_and_timed(rendered):
    tracks = text_tracks(rendered.parent / "renders" / "s01e01.fr.mp4")
    subtitles, titles = tracks["Subtitles (fr)"], tracks["Titles (fr)"]
    assert (subtitles["language"], titles["language"]) == ("fra", "fra")
    assert subtitles["disposition"] & int(av.stream.Disposition.default)
    assert titles["disposition"] & int(av.stream.Disposition.forced)
    # sh02 starts at frame 8 (333 ms); its second line (0.1–0.2 s) overlaps the first, so the
    # track shows both lines while they overlap
    assert subtitles["cues"] == [
        (50, 300, "La lampe est allumée ?"),
        (333, 433, "Pas encore & bientôt"),
        (433, 533, "Pas encore & bientôt\n(vagues)"),
        (533, 667, "Pas encore & bientôt"),
        (667, 1000, "Plus tard."),
    ]
    assert titles["cues"] == [(0, 667, "La lampe\nCrépuscule sur le quai"), (667, 1000, "La ruelle")]
    assert text_tracks(rendered.parent / "renders" / "s01e01.en.mp4")["Subtitles (en)"]["language"] == "eng"


def test_title_track_is_styled_bold_and_on_top(rendered):
    with av.open(str(rendered.parent / "renders" / "s01e01.fr.mp4")) as container:
        by_name = {s.metadata["handler_name"]: bytes(s.codec_context.extradata) for s in container.streams.subtitles}
    # tx3g sample description: justification at bytes 4-5, default style record from byte 18
    # (start, end, font id: 2 bytes each, then face flags and size)
    titles, subtitles = by_name["Titles (fr)"], by_name["Subtitles (fr)"]
    assert (titles[5], subtitles[5]) == (0x00, 0xFF)  # vertical justification: top (0), bottom (-1)
    assert titles[24] & 1 and not subtitles[24] & 1  # bold
    assert titles[25] > subtitles[25]  # larger


def test_chapters_start_at_scenes_with_localized_titles(rendered):
    expected = {"fr": ["Crépuscule sur le quai", "La ruelle"], "en": ["Dusk on the quay", "The alley"]}
    for language, names in expected.items():
        with av.open(str(rendered.parent / "renders" / f"s01e01.{language}.mp4")) as container:
            chapters = container.chapters()
        assert [c["metadata"]["title"] for c in chapters] == names
        assert [round(c["start"] * c["time_base"] * FPS) for c in chapters] == [0, 16]
        assert round(chapters[-1]["end"] * chapters[-1]["time_base"] * FPS) == 24


def test_webvtt_and_srt_files_beside_each_delivery(rendered):
    renders = rendered.parent / "renders"
    assert (renders / "s01e01.fr.vtt").read_text(encoding="utf-8") == (
        "WEBVTT\nLanguage: fr\n\n"
        "00:00:00.050 --> 00:00:00.300\n<v Mara>La lampe est allumée ?\n\n"
        "00:00:00.333 --> 00:00:00.667\n<v Theo>Pas encore &amp; bientôt\n\n"
        "00:00:00.433 --> 00:00:00.533\n(vagues)\n\n"
        "00:00:00.667 --> 00:00:01.000\nPlus tard.\n")
    assert (renders / "s01e01.en.srt").read_text(encoding="utf-8") == (
        "1\n00:00:00,050 --> 00:00:00,300\nIs the lamp lit?\n\n"
        "2\n00:00:00,333 --> 00:00:00,667\nNot yet <soon> & then\n\n"
        "3\n00:00:00,433 --> 00:00:00,533\n(waves)\n\n"
        "4\n00:00:00,667 --> 00:00:01,000\nLater.\n")
    assert not (renders / "s01e01.ja.mp4").exists()  # declared, but not asked for


def test_each_language_delivery_is_signed_recorded_and_verifies(rendered):
    renders = rendered.parent / "renders"
    rows = catalog_rows(rendered, "SELECT l.language, l.picture_render_id, r.output_path, d.signed, r.shots_rendered "
                                  "FROM localized_deliveries l JOIN renders r ON r.id = l.render_id "
                                  "JOIN deliveries d ON d.render_id = l.render_id ORDER BY l.language")
    picture_id = catalog_rows(rendered, "SELECT max(id) FROM renders WHERE output_path LIKE '%s01e01.mp4'")[0][0]
    assert [(lang, pic, Path(out).name, signed, rendered) for lang, pic, out, signed, rendered in rows] == [
        ("en", picture_id, "s01e01.en.mp4", 1, 0), ("fr", picture_id, "s01e01.fr.mp4", 1, 0)]
    shown = json.loads(run_cli("credentials", "show", str(renders / "s01e01.fr.mp4"), "--json").stdout)
    assert f'"picture_render_id": {picture_id}' in json.dumps(shown)
    out = run_cli("verify", str(renders / "s01e01.fr.mp4")).stdout
    assert "unsigned stream: re-created byte for byte" in out and "VERIFIED" in out
    assert "Content Credentials: Trusted" in out


def test_a_new_language_later_renders_and_encodes_nothing(rendered, tmp_path):
    from reelforge.plan.jobs import plan
    from reelforge.spec.load import load_production

    show = tmp_path / "show"
    copy_production(rendered.parent, show)
    spec = show / "production.json"
    keys = [job.key for e in plan(load_production(spec), base_dir=show) for job in e.jobs]
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["languages"].append("de")
    for scene in data["episodes"][0]["scenes"]:
        scene["title"]["de"] = f"Szene {scene['id']}"
        for shot in scene["shots"]:
            shot["prompt"] = {"en": shot["prompt"], "de": "Eine Übersetzung"}  # a prompt translation too
            for line in shot.get("dialogue", []):
                line["text"]["de"] = "Ja."
    spec.write_text(json.dumps(data), encoding="utf-8")
    assert [job.key for e in plan(load_production(spec), base_dir=show) for job in e.jobs] == keys
    segments = {p.name: p.stat().st_mtime_ns for p in (show / ".reelforge" / "segments").iterdir()}
    frames = sorted(p.name for p in (show / ".reelforge" / "frames").rglob("*") if p.is_file())
    run_cli("render", str(spec), "--languages", "de")
    assert {p.name: p.stat().st_mtime_ns for p in (show / ".reelforge" / "segments").iterdir()} == segments
    assert sorted(p.name for p in (show / ".reelforge" / "frames").rglob("*") if p.is_file()) == frames
    assert catalog_rows(spec, "SELECT shots_rendered, shots_reused FROM renders WHERE output_path LIKE "
                              "'%s01e01.mp4' ORDER BY id DESC LIMIT 1") == [(0, 3)]
    renders = show / "renders"
    assert video_packets(renders / "s01e01.de.mp4") == video_packets(rendered.parent / "renders" / "s01e01.mp4")
    assert text_tracks(renders / "s01e01.de.mp4")["Titles (de)"]["language"] == "deu"


# -- validation -------------------------------------------------------------------------------


def validate(tmp_path: Path, spec: dict, *args: str):
    return run_cli("validate", str(write_spec(tmp_path / "v", spec)), *args, check=False)


def test_missing_translations_warn_and_strict_makes_them_errors(tmp_path):
    spec = localized_spec()
    del spec["episodes"][0]["scenes"][1]["title"]["ja"]
    spec["episodes"][0]["scenes"][0]["shots"][0]["dialogue"][0]["text"] = "Is the lamp lit?"
    result = validate(tmp_path, spec)
    assert result.returncode == 0 and "OK" in result.stdout
    assert "$.series.title: no 'ja' translation" in result.stderr  # the example's series title: en, fr
    assert "$.episodes[0].scenes[1].title: no 'ja' translation" in result.stderr
    assert "$.episodes[0].scenes[0].shots[0].dialogue[0].text: no 'fr' or 'ja' translation" in result.stderr
    # the Japanese titles DejaVu Sans Bold cannot draw (tests/test_fonts.py) are warned about too
    assert "$.episodes[0].title.ja: the font for 'ja' (DejaVu Sans Bold) has no glyphs for '灯', 'り'" in result.stderr
    strict = validate(tmp_path, spec, "--strict")
    assert strict.returncode == 2 and "5 problems" in strict.stderr and "Traceback" not in strict.stderr


def test_text_in_an_undeclared_language_is_a_warning(tmp_path):
    spec = localized_spec()
    spec["episodes"][0]["title"]["fr-CA"] = "La lampe"
    assert "$.episodes[0].title: text in 'fr-CA', which $.languages does not declare" in validate(tmp_path, spec).stderr


def test_specs_without_languages_stay_valid_and_silent(tmp_path):
    result = validate(tmp_path, unblocked(small_spec()), "--strict")  # the example has French titles, no `languages`
    assert result.returncode == 0 and result.stderr == ""


def test_dialogue_and_language_errors_name_their_json_paths(tmp_path):
    from reelforge.spec.load import validate_file

    spec = localized_spec()
    spec["languages"] = ["fr", "ja"]
    lines = spec["episodes"][0]["scenes"][0]["shots"][0]["dialogue"]
    lines[0]["speaker"] = "marra"
    lines.append({"text": "Late", "start_s": 0.2, "end_s": 0.1})
    lines.append({"text": "Too long", "start_s": 0.1, "end_s": 2})
    lines.append({"text": "After", "start_s": 1})
    found = {p.path: p.message for p in validate_file(write_spec(tmp_path / "bad", spec))}
    at = "$.episodes[0].scenes[0].shots[0].dialogue"
    assert found == {
        "$.languages": "the source language 'en' (from $.language) must be among the languages delivered: fr, ja",
        f"{at}[0].speaker": "a line in shot s01e01/sc01/sh01 is spoken by unknown character 'marra'; "
                            "did you mean 'mara'? Known characters: mara, theo",
        f"{at}[1].end_s": "line ends at 0.1 s, not after it starts (0.2 s)",
        f"{at}[2].end_s": "line ends at 2 s, after the end of shot s01e01/sc01/sh01 (0.333 s: 8 frames at 24 fps)",
        f"{at}[3].start_s": "line starts at 1 s, after the end of shot s01e01/sc01/sh01 (0.333 s: 8 frames at 24 fps)",
    }


def test_languages_must_be_declared_to_be_rendered(tmp_path):
    spec = write_spec(tmp_path / "show", localized_spec())
    result = run_cli("render", str(spec), "--languages", "fr,de", check=False)
    assert result.returncode == 2 and "--languages de: not declared" in result.stderr
    assert not (tmp_path / "show" / "renders").exists()


# -- text, without rendering ------------------------------------------------------------------


def test_adding_translations_and_dialogue_changes_no_job_key():
    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production

    bare = unblocked(small_spec())
    keys = [job.key for e in plan(Production.model_validate(bare)) for job in e.jobs]
    assert [job.key for e in plan(Production.model_validate(localized_spec())) for job in e.jobs] == keys
    retranslated = localized_spec()
    retranslated["episodes"][0]["scenes"][0]["shots"][0]["prompt"] = {
        "en": bare["episodes"][0]["scenes"][0]["shots"][0]["prompt"], "fr": "Mara marche sur le quai"}
    assert [job.key for e in plan(Production.model_validate(retranslated)) for job in e.jobs] == keys


def test_text_falls_back_to_the_source_language():
    from reelforge.deliver.localize import episode_text
    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production

    spec = localized_spec()
    spec["episodes"][0]["scenes"][1]["title"] = "The alley"  # not translated
    production = Production.model_validate(spec)
    text = episode_text(production, plan(production)[0], "ja")
    assert [c.title for c in text.chapters] == ["波止場の夕暮れ", "The alley"]
    assert text.subtitles[0].voice == "Mara" and text.frames == 24
    assert text.title.endswith("灯り")


def test_webvtt_escapes_markup_and_mov_text_keeps_backslashes():
    from reelforge.media.subtitles import Cue, _ass_text, flatten, webvtt

    assert "a &lt;b&gt; --&gt; &amp;" in webvtt([Cue(0, 1000, "a <b> --> &")], "en")
    assert webvtt([Cue(0, 1000, "one\n\ntwo")], "en").endswith("one\ntwo\n")  # a blank line would end the cue
    assert _ass_text("C:\\new {\\b1}\nline") == "C:\\\u200bnew {\\\u200bb1}\\Nline"
    assert flatten([Cue(0, 10, "a"), Cue(10, 20, "b")]) == [Cue(0, 10, "a"), Cue(10, 20, "b")]
    assert flatten([Cue(0, 20, "a"), Cue(5, 10, "b")]) == [Cue(0, 5, "a"), Cue(5, 10, "a\nb"), Cue(10, 20, "a")]


def test_mux_is_deterministic(rendered, tmp_path):
    from reelforge.deliver.localize import EpisodeText
    from reelforge.media.subtitles import mux_text

    ((row,),) = catalog_rows(rendered, "SELECT text_json FROM localized_deliveries WHERE language = 'fr'")
    text = EpisodeText.from_record(json.loads(row))
    picture = rendered.parent / "renders" / "s01e01.mp4"
    one, two = tmp_path / "one.mp4", tmp_path / "two.mp4"
    for target in (one, two):
        mux_text(picture, target, text.tracks(), text.chapters, text.fps, text.title)
    assert one.read_bytes() == two.read_bytes()
    assert Fraction(text.chapters[1].start, text.fps) == Fraction(2, 3)


def test_burned_titles_are_an_extra_delivery_that_verifies(tmp_path):
    spec = localized_spec()
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    episode["scenes"][0]["shots"] = [dict(episode["scenes"][0]["shots"][0], frames=4)]
    episode["scenes"][0]["shots"][0]["dialogue"][0]["end_s"] = 0.15
    path = write_spec(tmp_path / "show", spec)
    run_cli("render", str(path), "--languages", "fr", "--burn-titles")
    renders = tmp_path / "show" / "renders"
    burned, picture = renders / "s01e01.fr.burned.mp4", renders / "s01e01.mp4"
    assert list(text_tracks(burned)) == ["Subtitles (fr)"]  # the titles are in the picture instead

    def first_frame(file: Path):
        with av.open(str(file)) as container:
            return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)

    difference = abs(first_frame(burned) - first_frame(picture))
    assert difference[:200].mean() > 5 * max(difference[-500:].mean(), 0.1)  # drawn at the top, nowhere else
    out = run_cli("verify", str(burned)).stdout
    assert "unsigned stream: re-created byte for byte" in out and "VERIFIED" in out


def test_blank_lines_in_text_are_dropped_in_every_track_alike():
    """A blank line ends a cue in WebVTT/SRT, and in the WebVTT/SRT a player or ffmpeg makes from mov_text:
    the muxed cue must hold the same lines as the side files."""
    from reelforge.deliver.localize import episode_text
    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production

    spec = localized_spec()
    spec["episodes"][0]["scenes"][0]["shots"][0]["dialogue"] = [{"text": "Line one\n\n  \r\nLine three\n"}]
    spec["episodes"][0]["scenes"][1]["title"] = "The\n\nalley"
    production = Production.model_validate(spec)
    text = episode_text(production, plan(production)[0], "en")
    assert text.subtitles[0].text == "Line one\nLine three"
    assert text.titles[-1].text == "The\nalley" and text.chapters[-1].title == "The alley"
