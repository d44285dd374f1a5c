"""Visible watermark: the ffmpeg recipe marks the right corner, escapes text, and gives the same bytes twice."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reelforge.cli import app
from reelforge.deliver.options import signing_identity
from reelforge.media.encode import EncodeSettings
from reelforge.media.watermark import (
    FONT_FILE,
    FONT_SHA256,
    POSITIONS,
    WatermarkError,
    WatermarkSpec,
    apply_watermark,
    escape_value,
    ffmpeg_command,
    ffmpeg_exe,
    filter_graph,
    font_path,
    labels_as_bt709,
    recipe_record,
    source_settings,
)
from reelforge.spec.load import load_production
from reelforge.trust.credentials import (
    TRAINED_ALGORITHMIC_MEDIA,
    read_credentials,
    sign_file,
    summarize,
    verify_credentials,
)

OPPOSITE = {"top-left": "bottom-right", "top-right": "bottom-left", "bottom-left": "top-right",
            "bottom-right": "top-left", "center": "top-left"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_video(path: Path, width: int, height: int, frames: int, fps: int = 24, audio: bool = False,
               colorspace: int | None = None) -> Path:
    """A gray horizontal gradient in H.264 (untagged, or tagged with an H.273 matrix), optionally with AAC."""
    ramp = np.linspace(40, 200, width).astype(np.uint8)
    gray = np.broadcast_to(ramp[None, :, None], (height, width, 3)).copy()
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        stream.codec_context.thread_count = 1
        if colorspace is not None:
            context = stream.codec_context
            context.colorspace = context.color_primaries = context.color_trc = colorspace
            context.color_range = 1
        sound = container.add_stream("aac", rate=48000, layout="mono") if audio else None
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(gray, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if sound is not None:
            samples = frames * 48000 // fps
            tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode())
    return path


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def region(image: np.ndarray, where: str) -> np.ndarray:
    """The part of a frame where a mark at `where` goes: a corner box a third wide, a quarter high."""
    h, w = image.shape
    bh, bw = h // 4, w // 3
    if where == "center":
        return image[h // 2 - bh // 2:h // 2 + bh, w // 2 - bw // 2:w // 2 + bw // 2]
    vertical, horizontal = where.split("-")
    rows = slice(0, bh) if vertical == "top" else slice(h - bh, h)
    cols = slice(0, bw) if horizontal == "left" else slice(w - bw, w)
    return image[rows, cols]


def changed(a: np.ndarray, b: np.ndarray, where: str) -> float:
    """Fraction of pixels in `where` that moved by more than 40 gray levels."""
    diff = np.abs(region(a, where).astype(np.int16) - region(b, where).astype(np.int16))
    return float((diff > 40).mean())


def drift(a: np.ndarray, b: np.ndarray, where: str) -> float:
    """Mean absolute difference in `where` (re-encoding alone moves it well under 2 levels)."""
    return float(np.abs(region(a, where).astype(np.int16) - region(b, where).astype(np.int16)).mean())


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("src") / "small.mp4", 320, 180, 48, audio=True)


@pytest.fixture(scope="module")
def full_hd(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("src") / "hd.mp4", 1920, 1080, 6)


@pytest.fixture(scope="module")
def logo(tmp_path_factory) -> Path:
    """A red square with a transparent border and an opaque white bar: alpha must survive."""
    image = Image.new("RGBA", (120, 80), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (100, 60), (220, 30, 30, 255)), (10, 10))
    image.paste(Image.new("RGBA", (100, 12), (255, 255, 255, 255)), (10, 34))
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    image.save(path)
    return path


def test_bundled_font_is_the_named_file():
    font = font_path()
    assert font.name == FONT_FILE
    assert hashlib.sha256(font.read_bytes()).hexdigest() == FONT_SHA256
    assert (font.parent / "LICENSE-DejaVu.txt").is_file()


@pytest.mark.parametrize("position", POSITIONS)
def test_text_marks_its_corner_only(tmp_path: Path, small: Path, position: str):
    out = apply_watermark(small, tmp_path / "out.mp4", WatermarkSpec(text="PREVIEW reelforge", position=position,
                                                                     opacity=1.0))
    source, marked = frames(small), frames(out)
    assert len(marked) == len(source) == 48
    assert marked[0].shape == (180, 320)
    for index in (0, 47):
        assert changed(marked[index], source[index], position) > 0.01, position
        assert changed(marked[index], source[index], OPPOSITE[position]) == 0
        assert drift(marked[index], source[index], OPPOSITE[position]) < 2


def test_text_and_logo_at_1080p(tmp_path: Path, full_hd: Path, logo: Path):
    spec = WatermarkSpec(text="Harbor Lights — review copy", logo=logo, position="top-left", opacity=1.0)
    out = apply_watermark(full_hd, tmp_path / "out.mp4", spec)
    source, marked = frames(full_hd), frames(out)
    assert len(marked) == len(source) == 6 and marked[0].shape == (1080, 1920)
    assert changed(marked[0], source[0], "top-left") > 0.02
    assert drift(marked[0], source[0], "bottom-right") < 2
    # The logo is 0.1·h = 108 px high at the margin (0.03·h ≈ 32 px); its transparent border shows the source.
    with av.open(str(out)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    with av.open(str(full_hd)) as container:
        plain = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    scale, at = 108 / 80, 32  # logo pixels → frame pixels; the logo's top-left corner in the frame

    def pixel(x: int, y: int) -> np.ndarray:
        return rgb[at + round(y * scale), at + round(x * scale)]

    red = pixel(30, 20)  # inside the red square, above the white bar
    assert red[0] > 170 and red[1] < 90 and red[2] < 90, red
    assert pixel(60, 40).min() > 200  # the white bar
    corner = at + round(4 * scale)
    assert abs(pixel(4, 4) - plain[corner, corner]).max() < 6  # transparent border: the source shows through
    # The text sits under the logo, left-aligned with it.
    text_band = region(marked[0], "top-left")[int(1080 * 0.145):int(1080 * 0.19), :]
    untouched = region(source[0], "top-left")[int(1080 * 0.145):int(1080 * 0.19), :]
    assert (np.abs(text_band.astype(int) - untouched) > 40).mean() > 0.02


def test_same_input_same_bytes(tmp_path: Path, small: Path, full_hd: Path, logo: Path):
    spec = WatermarkSpec(text="it's: 50% [draft]", logo=logo, position="bottom-right", opacity=0.7)
    for source in (small, full_hd):
        first = apply_watermark(source, tmp_path / f"a-{source.stem}.mp4", spec)
        second = apply_watermark(source, tmp_path / "elsewhere" / f"b-{source.stem}.mp4", spec)
        assert sha(first) == sha(second)
    assert not list(tmp_path.rglob(".*.tmp-*"))  # the atomic write left nothing behind


def test_audio_and_subtitles_are_copied_untouched(tmp_path: Path, small: Path):
    """Localized tracks (audio, mov_text subtitles) keep their packets and language tags."""
    srt = tmp_path / "fr.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nBonjour : l'été\n", encoding="utf-8")
    localized = tmp_path / "localized.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(small), "-i", str(srt),
                    "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", "-metadata:s:a:0", "language=fra",
                    "-metadata:s:s:0", "language=fra", "-metadata", "title=Episode 1", str(localized)], check=True)
    out = apply_watermark(localized, tmp_path / "out.mp4", WatermarkSpec(text="x"))

    def tracks(path: Path) -> dict[str, tuple[str, list[bytes]]]:
        with av.open(str(path)) as container:
            found = {s.type: (s.metadata.get("language"), []) for s in container.streams if s.type != "video"}
            for packet in container.demux(*[s for s in container.streams if s.type != "video"]):
                if packet.size:
                    found[packet.stream.type][1].append(bytes(packet))
            return found

    before, after = tracks(localized), tracks(out)
    assert set(after) == {"audio", "subtitle"} and after == before
    assert after["audio"][0] == "fra" and after["audio"][1]
    with av.open(str(out)) as container:
        assert "title" not in container.metadata  # global metadata is not carried over


def test_opacity_scales_the_mark(tmp_path: Path, small: Path, logo: Path):
    source = frames(small)[0]
    marks = {}
    for opacity in (0.0, 0.5, 1.0):
        spec = WatermarkSpec(text="PREVIEW reelforge", logo=logo, position="bottom-left", opacity=opacity)
        marks[opacity] = frames(apply_watermark(small, tmp_path / f"o{opacity}.mp4", spec))[0]
    strength = {o: drift(m, source, "bottom-left") for o, m in marks.items()}
    assert strength[0.0] < 2  # invisible: only re-encoding noise
    assert strength[0.0] < strength[0.5] < strength[1.0]
    assert strength[1.0] > 8


def test_output_container_follows_the_name(tmp_path: Path, small: Path):
    out = apply_watermark(small, tmp_path / "out.mkv", WatermarkSpec(text="mkv"))
    with av.open(str(out)) as container:
        assert container.format.name.startswith("matroska")
        assert sum(1 for _ in container.decode(video=0)) == 48
    with pytest.raises(WatermarkError, match=r"out\.avi"):
        apply_watermark(small, tmp_path / "out.avi", WatermarkSpec(text="avi"))


def test_escaped_text_renders_literally(tmp_path: Path, small: Path):
    """Text given through the escaped `text=` option draws exactly what `textfile=` (no escaping) draws."""
    text = r"It's 5:00 — 50% [ok], a; b \ c %{pts} =x"
    font = font_path()
    spec = WatermarkSpec(text=text, position="center", opacity=1.0)
    graph = filter_graph(spec, font)
    assert r"It\\\'s 5\\:00" in graph and r"\[ok\]\," in graph and r"a\; b \\\\ c" in graph
    raw = tmp_path / "text.txt"
    raw.write_bytes(text.encode("utf-8"))
    from_file = graph.replace("text=" + escape_value(text), "textfile=" + escape_value(str(raw)))
    assert from_file != graph

    def render(g: str) -> bytes:
        result = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(small),
                                 "-filter_complex", g, "-map", "[v]", "-frames:v", "1", "-f", "rawvideo",
                                 "-pix_fmt", "gray", "-"], capture_output=True, check=True)
        return result.stdout

    escaped, literal = render(graph), render(from_file)
    assert len(escaped) == 320 * 180
    assert escaped == literal
    plain = render("[0:v]format=yuv420p[v]")
    assert escaped != plain


def test_bad_inputs_name_the_file(tmp_path: Path, small: Path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(WatermarkError, match="nope.mp4"):
        apply_watermark(missing, tmp_path / "out.mp4", WatermarkSpec(text="x"))
    with pytest.raises(WatermarkError, match="ghost.png"):
        apply_watermark(small, tmp_path / "out.mp4", WatermarkSpec(text="x", logo=tmp_path / "ghost.png"))
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(WatermarkError, match="fake.png.*not a readable image"):
        apply_watermark(small, tmp_path / "out.mp4", WatermarkSpec(text="x", logo=fake))
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 4096)
    with pytest.raises(WatermarkError, match=r"(?s)garbage\.mp4: ffmpeg failed.*\n  \S") as failure:
        apply_watermark(garbage, tmp_path / "out.mp4", WatermarkSpec(text="x"))
    assert "Invalid data" in str(failure.value).splitlines()[-1]  # ffmpeg's own last lines come along
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out.mp4.tmp-*"))


@pytest.mark.parametrize("kwargs, message", [
    ({"text": "x", "position": "middle"}, "position must be one of"),
    ({"text": "x", "opacity": 1.5}, "opacity must be between 0 and 1"),
    ({"text": "  "}, "give a text, a logo, or both"),
    ({"text": "two\nlines"}, "control characters"),
    ({"text": "x", "font_size": 2.0}, "font_size"),
])
def test_spec_is_checked(kwargs: dict, message: str):
    with pytest.raises(WatermarkError, match=message):
        WatermarkSpec(**kwargs)


def test_record_names_what_the_bytes_depend_on(logo: Path):
    record = recipe_record(WatermarkSpec(text="x", logo=logo), EncodeSettings(1920, 1080, 24, 18, "faster", 2))
    assert record["font"] == {"file": FONT_FILE, "sha256": FONT_SHA256}
    assert record["logo_sha256"] == sha(logo)
    assert f"fontfile={FONT_FILE}:" in record["graph"] and str(font_path().parent) not in record["graph"]
    assert record["ffmpeg"] and record["imageio_ffmpeg"]
    assert "-threads" in record["encoder"] and "+bitexact" in record["encoder"]


def test_command_line(tmp_path: Path, small: Path):
    runner = CliRunner()
    out = tmp_path / "marked.mp4"
    ok = runner.invoke(app, ["watermark", str(small), str(out), "--text", "PREVIEW", "--position", "top-right",
                             "--opacity", "0.8"], env={"COLUMNS": "200"})
    assert ok.exit_code == 0, ok.output
    assert "marked" in ok.output and sha(out) in ok.output
    bad = runner.invoke(app, ["watermark", str(tmp_path / "absent [1].mp4"), str(out), "--text", "x"],
                        env={"COLUMNS": "200"})
    assert bad.exit_code == 2
    assert "absent [1].mp4" in bad.output and "Traceback" not in bad.output
    wrong = runner.invoke(app, ["watermark", str(small), str(out), "--text", "x", "--position", "side"])
    assert wrong.exit_code == 2 and "position must be one of" in wrong.output


def color_tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return (context.colorspace, context.color_primaries, context.color_trc, context.color_range)


@pytest.mark.parametrize("colorspace, labelled", [(None, True), (1, True), (6, False)])
def test_colours_are_bt709_and_never_converted_needlessly(tmp_path: Path, colorspace: int | None, labelled: bool):
    """Untagged and BT.709 input keep their pixels (only re-encoded); BT.601 input is converted to BT.709."""
    source = make_video(tmp_path / "in.mp4", 320, 180, 4, colorspace=colorspace)
    assert labels_as_bt709(source) is labelled
    out = apply_watermark(source, tmp_path / "out.mp4", WatermarkSpec(text="x", opacity=0.0),
                          replace(source_settings(source), crf=0))
    matrix, primaries, transfer, limited = color_tags(out)
    assert (matrix, limited) == (1, 1)  # BT.709 matrix, limited range, always
    # Primaries and transfer: BT.709 unless the input said otherwise (scale converts the matrix, not those).
    assert (primaries, transfer) == ((1, 1) if labelled else (colorspace, colorspace))
    with av.open(str(source)) as a, av.open(str(out)) as b:
        before = next(a.decode(video=0)).to_ndarray(format="yuv420p").astype(int)
        after = next(b.decode(video=0)).to_ndarray(format="yuv420p").astype(int)
    if labelled:
        assert np.array_equal(before, after)  # crf 0 is lossless: not one sample moved
    else:
        assert not np.array_equal(before, after)


def test_recipe_runs_without_warnings(tmp_path: Path, small: Path, logo: Path):
    """ffmpeg only warns when it ignores or guesses something (an option, a colour): the recipe must not."""
    for spec in (WatermarkSpec(text="x: y"), WatermarkSpec(text="z", logo=logo, position="center")):
        result = subprocess.run(ffmpeg_command(small, tmp_path / "out.mp4", spec), check=False, capture_output=True,
                                text=True)
        assert result.returncode == 0 and result.stderr == "", result.stderr


# --- signing a watermarked copy: reelforge opened the footage, it did not generate it -------------

def actions_of(store: dict, label: str) -> list[dict]:
    manifest = store["manifests"][label]
    return [action for item in manifest["assertions"] if item["label"].startswith("c2pa.actions")
            for action in item["data"]["actions"]]


def signed_watermark(src: Path, out: Path, production: Path) -> dict:
    result = CliRunner().invoke(app, ["watermark", str(src), str(out), "--text", "SCREENER",
                                      "--production", str(production)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    root = (production.parent / ".reelforge" / "identity" / "root.pem").read_bytes()
    verified = verify_credentials(out, root)
    assert verified.ok and verified.state == "Trusted", verified.failures  # under the production's own root
    return read_credentials(out)


def test_signed_watermark_of_own_footage_is_opened_and_edited_not_generated(tmp_path: Path, small: Path,
                                                                           small_production: Path):
    store = signed_watermark(small, tmp_path / "screener.mp4", small_production)
    assert "trainedAlgorithmicMedia" not in json.dumps(store)  # reelforge did not generate this footage
    assert [a["action"] for a in actions_of(store, store["active_manifest"])] == ["c2pa.opened", "c2pa.edited"]
    manifest = store["manifests"][store["active_manifest"]]
    (parent,) = manifest["ingredients"]
    assert (parent["title"], parent["relationship"]) == ("small.mp4", "parentOf") and "active_manifest" not in parent
    shown = CliRunner().invoke(app, ["credentials", "show", str(tmp_path / "screener.mp4")], env={"COLUMNS": "200"})
    assert "c2pa.opened; c2pa.edited: visible watermark burned in" in shown.output
    assert "edited from  small.mp4 (no Content Credentials of its own)" in shown.output


def test_signed_watermark_of_a_render_keeps_the_renders_credentials_inside(tmp_path: Path, small: Path,
                                                                           small_production: Path):
    identity = signing_identity(load_production(small_production), small_production.parent)
    render = sign_file(small, tmp_path / "s01e01.mp4", identity, assertion={"kind": "episode"}, title="s01e01.mp4")
    store = signed_watermark(render, tmp_path / "screener.mp4", small_production)
    active = store["manifests"][store["active_manifest"]]
    assert [a["action"] for a in actions_of(store, store["active_manifest"])] == ["c2pa.opened", "c2pa.edited"]
    (parent,) = active["ingredients"]
    assert parent["relationship"] == "parentOf" and parent["title"] == "s01e01.mp4"
    original = actions_of(store, parent["active_manifest"])  # the render's own claim, kept as it was signed
    assert [(a["action"], a.get("digitalSourceType")) for a in original] == [
        ("c2pa.created", TRAINED_ALGORITHMIC_MEDIA)]
    summary = summarize(store)
    assert summary["digital_source_type"] is None
    assert summary["parent"]["credentials"]["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert summary["parent"]["credentials"]["reelforge"] == {"kind": "episode"}
    assert summary["parent"]["failures"] == []  # the render's credentials validated when it was opened


def test_a_render_changed_after_signing_is_watermarked_with_its_broken_credentials_said(
        tmp_path: Path, small: Path, small_production: Path):
    identity = signing_identity(load_production(small_production), small_production.parent)
    render = sign_file(small, tmp_path / "s01e01.mp4", identity, assertion={"kind": "episode"}, title="s01e01.mp4")
    with render.open("ab") as handle:  # c2pa's own hash does not see this: reelforge's box check does
        handle.write((4104).to_bytes(4, "big") + b"free" + bytes(4096))
    out = tmp_path / "screener.mp4"
    result = CliRunner().invoke(app, ["watermark", str(render), str(out), "--text", "SCREENER",
                                      "--production", str(small_production)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "s01e01.mp4's own Content Credentials do not validate (reelforge.box.added)" in result.output
    assert summarize(read_credentials(out))["reelforge"]["source_credentials"] == "Invalid"
