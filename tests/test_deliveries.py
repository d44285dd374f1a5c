"""Named deliveries and the new formats, end to end: one production with a main 16:9 H.264 delivery and named
ones (a 9:16 cut, a ProRes 422 HQ master and one delivery per other format) renders every delivery, reuses
the main delivery's frames wherever the frame is the same, signs and records each (which delivery it is, in
the catalog and in its Content Credentials), re-renders byte for byte in another process and `verify`
proves each file, or catches a flipped byte in it. The review room, the status and approvals keep meaning
the main delivery.

Both productions are rendered once per module, each in a process of its own: two shots of two frames.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
from pathlib import Path

import av
import pytest
from conftest import cli, run_cli, small_spec, write_spec

from reelforge.engine.record import recorded_encode_settings
from reelforge.media.encode import EncodeSettings
from reelforge.trust.credentials import RENDER_LABEL, read_credentials

# name → (spec, file under renders/, codec PyAV decodes, size, pix_fmt it decodes to)
DELIVERIES = {
    "main": ({}, "s01e01.mp4", "h264", (1920, 1080), "yuv420p"),
    "vertical": ({"aspect_ratio": "9:16"}, "vertical/s01e01.mp4", "h264", (1080, 1920), "yuv420p"),
    "master": ({"format": "prores-422-hq"}, "master/s01e01.mov", "prores", (1920, 1080), "yuv422p10le"),
    "hevc": ({"format": "hevc", "bit_depth": 10}, "hevc/s01e01.mp4", "hevc", (1920, 1080), "yuv420p10le"),
    # FFmpeg's ProRes decoder gives every 4444 stream as 12-bit (the profile allows up to 12); fed 10-bit here
    "prores-4444": ({"format": "prores-4444"}, "prores-4444/s01e01.mov", "prores", (1920, 1080), "yuv444p12le"),
    "dnxhr": ({"format": "dnxhr-hqx"}, "dnxhr/s01e01.mov", "dnxhd", (1920, 1080), "yuv422p10le"),
    "h264-422": ({"bit_depth": 10, "chroma": "4:2:2"}, "h264-422/s01e01.mp4", "h264", (1920, 1080), "yuv422p10le"),
}
FORMATS = {"main": "h264", "vertical": "h264", "master": "prores-422-hq", "hevc": "hevc",
           "prores-4444": "prores-4444", "dnxhr": "dnxhr-hqx", "h264-422": "h264"}
NAMED = [name for name in DELIVERIES if name != "main"]


def deliveries_spec() -> dict:
    """Two shots of two frames; the main delivery 16:9 1080p H.264, and every named delivery above."""
    spec = small_spec(2)
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]  # its two shots
    spec["languages"] = ["en", "fr"]
    spec["deliveries"] = {name: changes for name, (changes, *_) in DELIVERIES.items() if name != "main"}
    return spec


@pytest.fixture(scope="module")
def shows(tmp_path_factory) -> dict[str, Path]:
    """The same spec rendered in two productions, each by `reelforge render` in a process of its own."""
    root = tmp_path_factory.mktemp("deliveries")
    made = {}
    for name in ("a", "b"):
        spec = write_spec(root / name, deliveries_spec())
        run_cli("render", str(spec))
        made[name] = spec
    return made


def catalog(spec: Path) -> sqlite3.Connection:
    db = sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    return db


def renders(spec: Path) -> dict[str, sqlite3.Row]:
    """The episode renders of each delivery (the latest), by delivery name ("main" for the main one)."""
    with catalog(spec) as db:
        rows = db.execute("SELECT r.*, d.unsigned_sha256, n.name FROM renders r JOIN deliveries d ON d.render_id = r.id "
                          "LEFT JOIN named_deliveries n ON n.render_id = r.id WHERE r.kind = 'episode' "
                          "AND r.id NOT IN (SELECT render_id FROM localized_deliveries) ORDER BY r.id").fetchall()
    return {row["name"] or "main": row for row in rows}


def job_keys(spec: Path, render_id: int) -> list[str]:
    with catalog(spec) as db:
        return [row[0] for row in db.execute("SELECT job_key FROM render_shots WHERE render_id = ? ORDER BY position",
                                             (render_id,))]


def mdat_middle(path: Path) -> int:
    """The offset of a byte in the middle of the file's media data (`mdat`): picture bytes, covered by C2PA."""
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        if kind == b"mdat":
            return offset + size // 2
        offset += size
    raise AssertionError(f"{path} has no mdat box")


def test_render_delivers_the_main_delivery_then_every_named_one(shows):
    """`reelforge render` writes every delivery to its place, of its codec, size, chroma and bit depth, in the
    container the codec expects (MOV for masters, MP4 with an `hvc1` HEVC track)."""
    out = shows["a"].parent / "renders"
    for name, (_, file, codec, (width, height), pix_fmt) in DELIVERIES.items():
        path = out / file
        assert path.is_file(), f"{name}: {file} was not delivered"
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.width, stream.height) == (codec, width, height), name
            assert stream.codec_context.pix_fmt == pix_fmt, name
            assert stream.frames == 4 or sum(1 for _ in container.decode(stream)) == 4, name
        brand = path.read_bytes()[8:12]
        assert (brand == b"qt  ") == (path.suffix == ".mov"), f"{name}: ftyp brand {brand!r}"
        if codec == "hevc":
            with av.open(str(path)) as container:
                assert container.streams.video[0].codec_tag == "hvc1"  # plays in QuickTime and Apple devices
    assert (out / "contact-sheet.png").is_file() and not (out / "vertical" / "contact-sheet.png").exists()


def test_a_named_delivery_of_the_same_frame_reuses_the_main_deliverys_frames(shows):
    """The master (another codec, the same frame) renders no frame: its shots are the main delivery's jobs, from
    the store; the vertical cut is framed anew from the camera, so its shots are jobs of their own."""
    found = renders(shows["a"])
    assert set(found) == set(DELIVERIES)
    assert (found["main"]["shots_rendered"], found["main"]["shots_reused"]) == (2, 0)
    assert (found["vertical"]["shots_rendered"], found["vertical"]["shots_reused"]) == (2, 0)
    main_keys = job_keys(shows["a"], found["main"]["id"])
    assert not set(job_keys(shows["a"], found["vertical"]["id"])) & set(main_keys)
    for name in NAMED:
        if name != "vertical":
            assert (found[name]["shots_rendered"], found[name]["shots_reused"]) == (0, 2), name
            assert job_keys(shows["a"], found[name]["id"]) == main_keys, name
    stored = {p.name for p in (shows["a"].parent / ".reelforge" / "store" / "frames").rglob("*") if p.is_file()}
    assert len(stored) <= 8  # 2 shots × 2 frames, twice (16:9 and 9:16): nothing stored twice


def test_each_delivery_is_recorded_with_its_name_format_depth_chroma_and_size(shows):
    """The catalog's render record and the file's signed manifest both say which delivery it is."""
    found = renders(shows["a"])
    for name, (_, file, _, (width, height), _) in DELIVERIES.items():
        encode = json.loads(found[name]["encode_json"])
        settings = recorded_encode_settings(found[name]["encode_json"])
        assert (settings.format, settings.width, settings.height) == (FORMATS[name], width, height), name
        assert encode["delivery"] == {"name": name, "format": FORMATS[name], "codec": settings.codec,
                                      "container": settings.container, "bit_depth": settings.bit_depth,
                                      "chroma": settings.chroma, "size": [width, height]}, name
        store = read_credentials(shows["a"].parent / "renders" / file)
        assertion = next(a["data"] for a in store["manifests"][store["active_manifest"]]["assertions"]
                         if a["label"] == RENDER_LABEL)
        assert assertion["delivery"] == encode["delivery"], name
        assert assertion["unsigned_sha256"] == found[name]["unsigned_sha256"], name


def test_old_records_read_back_as_h264_8_bit_420():
    """A render recorded before formats existed has no format, depth or chroma: it was H.264 8-bit 4:2:0."""
    old = {"width": 1920, "height": 1080, "fps": 24, "crf": 18, "preset": "faster", "threads": 2,
           "codec": "libx264", "pix_fmt": "yuv420p", "x264_params": "bframes=0", "av": "14.0.1"}
    assert recorded_encode_settings(json.dumps(old)) == EncodeSettings(1920, 1080, 24, 18, "faster", 2)
    new = EncodeSettings(1080, 1920, 25, 20, "fast", 2, format="prores-4444", bit_depth=10, chroma="4:4:4")
    back = recorded_encode_settings(json.dumps({**new.record(), "delivery": {"name": "x"}}))
    # a master records no crf or preset (it ignores them): read back with the spec's defaults, the same settings
    assert back.record() == new.record() and (back.format, back.bit_depth, back.chroma) == ("prores-4444", 10, "4:4:4")
    h264 = EncodeSettings(1080, 1920, 25, 20, "fast", 2, bit_depth=10, chroma="4:2:2")
    assert recorded_encode_settings(json.dumps(h264.record())) == h264


@pytest.mark.parametrize("name", list(DELIVERIES))
def test_two_renders_in_separate_processes_give_identical_unsigned_bytes(shows, name):
    assert renders(shows["a"])[name]["unsigned_sha256"] == renders(shows["b"])[name]["unsigned_sha256"]


def test_the_review_room_status_and_approvals_keep_meaning_the_main_delivery(shows):
    from reelforge.app.approve import latest_render
    from reelforge.app.review import episode_videos
    from reelforge.app.status import production_status
    from reelforge.store.catalog import Catalog

    spec = shows["a"]
    main = renders(spec)["main"]
    with Catalog(spec.parent / ".reelforge" / "catalog.sqlite") as opened:
        videos = episode_videos(opened, spec.parent, "s01e01")
        assert videos.picture.render_id == main["id"] and videos.picture.path.name == "s01e01.mp4"
        assert opened.render_with_shot("s01e01/sc01/sh01").id == main["id"]
        assert opened.delivery_name(main["id"]) is None
        assert opened.delivery_name(renders(spec)["vertical"]["id"]) == "vertical"
        with opened.session() as session:
            assert latest_render(session, "episode:s01e01")["render_id"] == main["id"]
            assert latest_render(session, "shot:s01e01/sc01/sh02")["render_id"] == main["id"]
    status = production_status(spec)
    assert {shot.state for shot in status.shots()} == {"up-to-date"}  # the vertical cut's jobs are no new version
    assert all(episode.cut.up_to_date for episode in status.episodes)


@pytest.mark.parametrize("name", NAMED)
def test_verify_proves_each_delivery(shows, name):
    """`verify FILE` re-creates the unsigned bytes from the recorded settings (format, depth, chroma, size)."""
    code, output = cli("verify", str(shows["a"].parent / "renders" / DELIVERIES[name][1]))
    assert code == 0, output
    assert "unsigned stream: re-created byte for byte" in output and "VERIFIED" in output


@pytest.mark.parametrize("name", list(DELIVERIES))
def test_a_flipped_byte_is_caught_by_verify(shows, name):
    """One picture byte changed: the file's hash differs from the recorded one and its C2PA BMFF hash fails."""
    path = shows["b"].parent / "renders" / DELIVERIES[name][1]
    data = bytearray(path.read_bytes())
    data[mdat_middle(path)] ^= 0x01
    path.write_bytes(bytes(data))
    code, output = cli("verify", str(path))
    assert code == 1, output
    assert "file bytes: differ from the recorded render" in output
    assert "assertion.bmffHash.mismatch" in output
    assert "NOT VERIFIED" in output


def test_delivery_option_renders_one_delivery_with_its_languages(shows, tmp_path):
    """`--delivery master --languages en --burn-titles`: the master alone, its language deliveries MOVs like its
    picture (the frames and the master's segments come from the store), which verify proves."""
    spec = shutil.copytree(shows["a"].parent, tmp_path / "show") / "production.json"
    result = run_cli("render", str(spec), "--delivery", "master", "--languages", "en", "--burn-titles")
    assert "master: Apple ProRes 422 HQ 1920×1080 10-bit 4:2:2" in result.stdout
    localized = spec.parent / "renders" / "master" / "s01e01.en.mov"
    assert localized.read_bytes()[8:12] == b"qt  "
    with av.open(str(localized)) as container:
        assert container.streams.video[0].codec_context.name == "prores"
        assert [s.codec_context.name for s in container.streams.subtitles] == ["mov_text"] * len(
            container.streams.subtitles) and container.streams.subtitles
    burned = localized.with_name("s01e01.en.burned.mov")
    with av.open(str(burned)) as container:
        assert (container.streams.video[0].codec_context.name, container.streams.video[0].codec_context.pix_fmt) == \
            ("prores", "yuv422p10le")  # titles drawn in, re-encoded as the master it is
    with catalog(spec) as db:
        names = [row[0] for row in db.execute("SELECT n.name FROM renders r LEFT JOIN named_deliveries n "
                                              "ON n.render_id = r.id ORDER BY r.id DESC LIMIT 3")]
    assert names == ["master"] * 3  # the language deliveries and their picture: all the master's
    for path in (localized, burned):
        code, output = cli("verify", str(path))
        assert code == 0 and "VERIFIED" in output, output


def test_shot_renders_deliver_the_main_delivery_unless_one_is_named(shows, tmp_path):
    spec = shutil.copytree(shows["a"].parent, tmp_path / "show") / "production.json"
    run_cli("render", str(spec), "--shot", "s01e01/sc01/sh01")
    run_cli("render", str(spec), "--shot", "s01e01/sc01/sh01", "--delivery", "vertical")
    main = spec.parent / "renders" / "shots" / "s01e01.sc01.sh01.f00000-00002.mp4"
    vertical = spec.parent / "renders" / "vertical" / "shots" / "s01e01.sc01.sh01.f00000-00002.mp4"
    assert sorted(p.relative_to(spec.parent / "renders").as_posix()
                  for p in (spec.parent / "renders").rglob("shots/*")) == [
        "shots/s01e01.sc01.sh01.f00000-00002.mp4", "vertical/shots/s01e01.sc01.sh01.f00000-00002.mp4"]
    for path, size in ((main, (1920, 1080)), (vertical, (1080, 1920))):
        with av.open(str(path)) as container:
            assert (container.streams.video[0].width, container.streams.video[0].height) == size


def test_an_undeclared_delivery_is_refused(small_production):
    code, output = cli("render", str(small_production), "--delivery", "vertical")
    assert code == 2
    assert "--delivery vertical: not a delivery of" in output and "its deliveries: main" in output
    assert "Traceback" not in output


def test_a_dry_run_plans_every_delivery_and_says_which_only_encode_again(tmp_path):
    """`render --dry-run` lists each delivery's shots: another shape renders its own, the main frame's masters
    only encode the frames planned for the main delivery; nothing is rendered or stored."""
    spec = small_spec(2)
    spec["episodes"][0]["scenes"] = spec["episodes"][0]["scenes"][:1]
    spec["deliveries"] = {"vertical": {"aspect_ratio": "9:16"}, "master": {"format": "prores-422-hq"}}
    path = write_spec(tmp_path, spec)
    code, out = cli("render", str(path), "--dry-run")
    assert code == 0, out
    assert "s01e01/sc01/sh01 (vertical)" in out and "s01e01/sc01/sh01 (master)" in out
    assert "4 shot(s) to render, 0 reused from the store, 2 encoded again from frames planned above" in out
    assert not (tmp_path / "renders").exists()


def test_a_named_delivery_can_leave_the_main_deliverys_watermark_off(tmp_path):
    """A studio previews with "PREVIEW" burned in and hands the post house a clean master: `"watermark": false`
    on the named delivery. Each file records (and `verify` re-creates) its own watermark, or none."""
    spec = small_spec(2)
    spec["episodes"][0]["scenes"] = spec["episodes"][0]["scenes"][:1]
    spec["delivery"] = {"watermark": {"text": "PREVIEW"}}
    spec["deliveries"] = {"master": {"format": "prores-422-hq", "watermark": False},
                          "vertical": {"aspect_ratio": "9:16"}}
    path = write_spec(tmp_path, spec)
    run_cli("render", str(path))
    with catalog(path) as db:
        rows = {row["name"] or "main": row["watermark_json"] for row in db.execute(
            "SELECT n.name, d.watermark_json FROM renders r JOIN deliveries d ON d.render_id = r.id "
            "LEFT JOIN named_deliveries n ON n.render_id = r.id WHERE r.kind = 'episode'")}
    assert json.loads(rows["main"])["spec"]["text"] == "PREVIEW"
    assert json.loads(rows["vertical"])["spec"]["text"] == "PREVIEW"  # inherited
    assert rows["master"] in (None, "null")  # clean
    for name in ("master/s01e01.mov", "vertical/s01e01.mp4"):
        code, out = cli("verify", str(tmp_path / "renders" / name))
        assert code == 0 and "VERIFIED" in out, out


def test_a_render_sweeps_what_killed_renders_left_in_every_deliverys_folders_and_nothing_else(shows, tmp_path):
    """Hidden work files of atomic writes and hidden sequence folders, in each declared delivery's folder, its
    shots/ and its takes/ tree, go at the start of any render; a user's file of another name, and what a link in
    those folders leads to, stay."""
    spec = shutil.copytree(shows["a"].parent, tmp_path / "show") / "production.json"
    out = spec.parent / "renders"
    take_dir = out / "vertical" / "takes" / "s01e01" / "sc01" / "sh01"
    take_dir.mkdir(parents=True)
    (out / "master" / "shots").mkdir(parents=True)
    stale_files = [out / "vertical" / ".s01e01.mp4.tmp-x1", out / "master" / "shots" / ".a.mov.tmp-x2",
                   take_dir / ".take-2.mp4.tmp-x3", out / "takes" / "s01e01" / "sc01" / "sh02" / ".take-1.mp4.tmp-x4"]
    stale_folders = [out / ".s01e01.png-sequence.partial-x5", out / "vertical" / ".s01e01.exr-sequence.old-x6",
                     take_dir / ".take-2.png-sequence.partial-x7"]
    for path in stale_files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    for folder in stale_folders:
        (folder / "sc01.sh01").mkdir(parents=True)
        (folder / "sc01.sh01" / "s01e01.sc01.sh01.1001.png").write_bytes(b"half")
    elsewhere = tmp_path / "elsewhere" / "sc01" / "sh01"
    elsewhere.mkdir(parents=True)
    kept = [out / "vertical" / ".notes.txt", elsewhere / ".y.mp4.tmp-z", elsewhere / ".s.png-sequence.partial-z"]
    for path in kept:
        path.write_bytes(b"mine")
    (out / "vertical" / "takes" / "linked").symlink_to(tmp_path / "elsewhere")
    code, output = cli("render", str(spec), "--shot", "s01e01/sc01/sh01", "--actor", "tester")
    assert code == 0, output
    assert not [p for p in stale_files + stale_folders if p.exists()]
    assert all(path.read_bytes() == b"mine" for path in kept)
