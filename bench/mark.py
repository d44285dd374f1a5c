"""Invisible mark: embedding speed, PSNR, robustness and false matches, all measured in this one run.

Three 1080p24 clips of 96 frames (4 s), each marked with its own random id:
  previz   the example's previz shots (flat shading, camera moves, cuts): reelforge's own pictures
  natural  gradient + fine texture + moving discs + light grain (synthetic, natural-ish statistics)
  stress   the whole picture panning (a camera move over busy texture) with fresh grain on every
           frame: the hardest case for a static mark (H.264 spends its bits on the grain)

Each marked clip is delivered as reelforge delivers it (reelforge.media.encode, CRF 18, preset
"faster", BT.709) and every attack starts from the decoded delivery:
  re-encode at CRF 18 / 23 / 28 (libx264 via PyAV, yuv420p, preset veryfast), CRF 23 preset medium,
  scale to 1280×720, crop 10 % (uneven, so the tile grid moves), crop + scale, each re-encoded at
  CRF 23, and trims: 3-second windows (72 frames) starting at frames 0, 11 and 24 of the CRF 23 copy.
Detection always sees a 72-frame (3 s) window. "bit acc." is the raw accuracy of the 127 code bits
before BCH decoding; "exact" means the id came back exactly.

False matches: 100 unmarked clips (synthetic natural, panning/grain, periodic pictures including
ones that repeat at the mark's own 256-px period, and H.264 copies of the three unmarked clips,
scaled, cropped and trimmed); a false match is any clip for which `found` is true.

Embedding speed: frames/s of MarkEmbedder.embed on 1080p frames, one process, OpenCV's default
pool (2 threads on this machine); best of 3 passes over each clip.

The mark is keyed as a production's is: a fresh random key (32 bytes) each run, so the figures are
those of an arbitrary key, not of one chosen to look good. `--public` runs the public v1 pattern that
deliveries had before keying instead (for comparing the two on the same machine). The key's tables
(layout, sync spectra) are built once per key: that one-off cost is timed on its own.

Usage: python bench/mark.py [--public]
"""

from __future__ import annotations

import datetime
import os
import platform
import secrets
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from _common import episode_of_shots

from reelforge.media.encode import EncodeSettings, encode_frames
from reelforge.plan.jobs import plan
from reelforge.previz.raster import render_frames
from reelforge.spec.model import Production
from reelforge.trust import mark as M

FRAMES = 96
WINDOW = 72
SHOTS = [
    {"id": "sh01", "prompt": "Mara walks the quay", "frames": 40, "cast": ["mara"], "camera": {"move": "push-in"}},
    {"id": "sh02", "prompt": "Mara and Theo meet", "frames": 28, "cast": ["mara", "theo"]},
    {"id": "sh03", "prompt": "Theo follows Mara", "frames": 28, "cast": ["theo", "mara"],
     "camera": {"move": "pull-back"}},
]
DELIVERY = EncodeSettings(width=1920, height=1080, fps=24, crf=18, preset="faster", threads=2)


# ------------------------------------------------------------------------------------------- clips


def previz_clip() -> list[np.ndarray]:
    jobs = plan(Production.model_validate(episode_of_shots(SHOTS)))[0].jobs
    return [frame for job in jobs for frame in render_frames(job, range(job.frames))]


def natural_clip(count: int, seed: int, size=(1920, 1080)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([80 + 60 * xx / width + 40 * np.sin(yy / 170), 90 + 50 * yy / height,
                     120 - 40 * xx / width + 30 * np.cos(xx / 230)], axis=-1)
    base += cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 1.5)[..., None] * 25
    discs = [(int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(20, 250)),
              [float(c) for c in rng.integers(0, 256, 3)]) for _ in range(20)]
    frames = []
    for i in range(count):
        img = base.copy()
        for k, (x, y, r, colour) in enumerate(discs):
            cv2.circle(img, (x + int(4 * i * np.cos(k)), y + int(3 * i * np.sin(k))), r, colour, -1)
        img += rng.standard_normal((height, width, 1)).astype(np.float32) * 3
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def stress_clip(count: int, seed: int, size=(1920, 1080), speed=(5, 3), grain=5.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    width, height = size
    full_h, full_w = height + abs(speed[1]) * count + 8, width + abs(speed[0]) * count + 8
    coarse = rng.standard_normal((full_h // 8 + 2, full_w // 8 + 2)).astype(np.float32)
    texture = cv2.resize(coarse, (full_w, full_h), interpolation=cv2.INTER_CUBIC) * 35 + 120
    texture += cv2.GaussianBlur(rng.standard_normal((full_h, full_w)).astype(np.float32), (0, 0), 1.2) * 30
    colour = np.stack([texture, texture * 0.9 + 10, texture * 0.8 + 20], axis=-1)
    frames = []
    for i in range(count):
        y0 = abs(speed[1]) * (i if speed[1] >= 0 else count - i)
        x0 = abs(speed[0]) * (i if speed[0] >= 0 else count - i)
        img = colour[y0:y0 + height, x0:x0 + width] + rng.standard_normal((height, width, 1)).astype(np.float32) * grain
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def periodic_clip(count: int, seed: int, period: int, size=(1920, 1080)) -> list[np.ndarray]:
    """A picture that repeats every `period` pixels (tiled texture, checkerboard or grid), drifting."""
    rng = np.random.default_rng(seed)
    width, height = size
    kind = seed % 3
    if kind == 0:
        tile = cv2.GaussianBlur(rng.standard_normal((period, period)).astype(np.float32), (0, 0), period / 32)
        tile = 128 + 50 * tile / tile.std()
    elif kind == 1:
        yy, xx = np.mgrid[0:period, 0:period]
        tile = np.where(((yy < period // 2) ^ (xx < period // 2)), 90.0, 160.0)
    else:
        tile = np.full((period, period), 120.0)
        tile[: max(1, period // 16)] = 200.0
        tile[:, : max(1, period // 16)] = 200.0
    big = np.tile(tile.astype(np.float32), (height // period + 3, width // period + 3))
    frames = []
    for i in range(count):
        img = big[i: i + height, 2 * i: 2 * i + width] + rng.standard_normal((height, width)).astype(np.float32) * 2
        frames.append(np.dstack([np.clip(img, 0, 255).astype(np.uint8)] * 3))
    return frames


# ------------------------------------------------------------------------------------------- video


def reencode(frames, path: Path, crf: int, preset: str = "veryfast") -> list[np.ndarray]:
    """A copy: libx264 via PyAV at the frames' size, yuv420p; returns the decoded frames."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 2
        stream.options = {"preset": preset, "crf": str(crf)}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 24)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return decode(path)


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def scale(frames, size=(1280, 720)):
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def crop(frames, fraction=0.10, anchor=(0.3, 0.7)):
    height, width = frames[0].shape[:2]
    h, w = int(height * (1 - fraction)) // 2 * 2, int(width * (1 - fraction)) // 2 * 2
    y0, x0 = int((height - h) * anchor[0]), int((width - w) * anchor[1])
    return [np.ascontiguousarray(f[y0:y0 + h, x0:x0 + w]) for f in frames]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


# ------------------------------------------------------------------------------------------- measures


def embed_speed(embedder: M.MarkEmbedder, frames) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i, frame in enumerate(frames):
            embedder.embed(frame, i)
        best = min(best, time.perf_counter() - started)
    return len(frames) / best


def read(frames, mark_id: int, key: M.MarkKey) -> dict:
    started = time.perf_counter()
    result = M.detect_mark(frames, key=key)
    seconds = time.perf_counter() - started
    bits = result.details.get("code_bits")
    if bits is None:
        errors = None
    else:
        word = int(bits, 16)
        errors = int(sum(((word >> i) & 1) != b for i, b in enumerate(M.mark_codeword(mark_id))))
    return {"exact": result.found and result.mark_id == mark_id, "wrong": result.found and result.mark_id != mark_id,
            "raw_errors": errors, "z": result.sync_z, "seconds": seconds, "size": frames[0].shape[1::-1]}


def robustness(name: str, clip, mark_id: int, key: M.MarkKey,
               folder: Path) -> tuple[list[tuple[str, dict]], float, float]:
    embedder = M.MarkEmbedder(mark_id, key=key)
    marked = [embedder.embed(frame, i) for i, frame in enumerate(clip)]
    values = [psnr(m, f) for m, f in zip(marked, clip)]
    delivered_path = folder / f"{name}-delivered.mp4"
    encode_frames(delivered_path, marked, DELIVERY)
    delivered = decode(delivered_path)
    window = delivered[:WINDOW]
    rows = [("delivery (CRF 18 faster)", read(window, mark_id, key))]
    copies = {}
    for crf in (18, 23, 28):
        frames = reencode(delivered if crf == 23 else window, folder / f"{name}-crf{crf}.mp4", crf)
        copies[crf] = frames
        rows.append((f"re-encode CRF {crf}", read(frames[:WINDOW], mark_id, key)))
    rows.append(("re-encode CRF 23 medium", read(reencode(window, folder / f"{name}-medium.mp4", 23, "medium"),
                                                 mark_id, key)))
    rows.append(("720p + CRF 23", read(reencode(scale(window), folder / f"{name}-720.mp4", 23), mark_id, key)))
    rows.append(("crop 10% + CRF 23", read(reencode(crop(window), folder / f"{name}-crop.mp4", 23), mark_id, key)))
    rows.append(("crop 10% + 720p + CRF 23",
                 read(reencode(scale(crop(window, anchor=(0.8, 0.1))), folder / f"{name}-cropscale.mp4", 23),
                      mark_id, key)))
    for start in (0, 11, 24):
        rows.append((f"trim: CRF 23 frames {start}-{start + WINDOW - 1}",
                     read(copies[23][start:start + WINDOW], mark_id, key)))
    return rows, min(values), float(np.mean(values))


def unmarked_clips(folder: Path, base_clips: dict):
    """The 100 unmarked clips, made one at a time: (label, frames)."""
    for seed in range(40):
        yield f"natural#{seed}", natural_clip(24, 1000 + seed, (1280, 720))
    for seed in range(30):
        speed = ((seed % 7) - 3, (seed % 5) - 2)
        yield f"pan#{seed}", stress_clip(24, 2000 + seed, (1280, 720), speed, 2.0 + seed % 6)
    for seed, period in enumerate((256, 256, 256, 128, 64, 32, 16, 256, 512, 170)):
        size = (1920, 1080) if seed % 2 else (1280, 720)
        yield f"periodic {period}px #{seed}", periodic_clip(24, seed, period, size)
    for name, clip in base_clips.items():  # 20 H.264 copies of the unmarked 1080p clips
        copy = reencode(clip, folder / f"unmarked-{name}.mp4", 23)
        yield f"{name} CRF 23 frames 0-23", copy[:24]
        yield f"{name} CRF 23 frames 40-63", copy[40:64]
        yield f"{name} CRF 23 frames 72-95", copy[72:96]
        yield f"{name} CRF 23 720p", scale(copy[:24])
        yield f"{name} CRF 23 crop", crop(copy[30:54])
        yield f"{name} CRF 23 crop 720p", scale(crop(copy[50:74], anchor=(0.9, 0.2)))
        del copy
        if name != "stress":
            yield f"{name} 720p CRF 28", reencode(scale(clip[:24]), folder / f"unmarked-{name}-720.mp4", 28)


def main() -> None:
    started = time.perf_counter()
    key = M.PUBLIC_PATTERN if "--public" in sys.argv[1:] else M.MarkKey(secrets.token_bytes(M.KEY_BYTES))
    print(f"invisible mark bench ({key.algorithm}, key {key.key_id}), "
          f"{datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, OpenCV {cv2.__version__} "
          f"({cv2.getNumThreads()} threads), numpy {np.__version__}, PyAV {av.__version__}, Python "
          f"{platform.python_version()}")
    clips = {"previz": previz_clip(), "natural": natural_clip(FRAMES, 1), "stress": stress_clip(FRAMES, 2)}
    ids = {name: M.new_mark_id() for name in clips}
    print("mark ids: " + ", ".join(f"{name} {mark_id:016x}" for name, mark_id in ids.items()))

    # The key's tables (built once per key), then embedding speed (the pattern is built once per delivery:
    # timed separately).
    t0 = time.perf_counter()
    for size in (M.TILE, M.TILE // 2):
        M._sync_spectrum(key.secret, size)
    key_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    embedders = {name: M.MarkEmbedder(mark_id, key=key) for name, mark_id in ids.items()}
    setup = (time.perf_counter() - t0) / len(embedders)
    speeds = {name: embed_speed(embedders[name], clip) for name, clip in clips.items()}

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, clip in clips.items():
            results[name] = robustness(name, clip, ids[name], key, folder)

        fp_z, fp_sync, fp_found, fp_seconds = [], 0, 0, []
        for label, frames in unmarked_clips(folder, clips):
            t = time.perf_counter()
            result = M.detect_mark(frames, key=key)
            fp_seconds.append(time.perf_counter() - t)
            fp_z.append((result.sync_z, label))
            fp_sync += result.sync_z >= M.SYNC_MIN_Z
            fp_found += result.found

    print()
    print(f"key tables (once per key): {key_setup * 1000:.1f} ms; pattern setup per delivery: {setup * 1000:.0f} ms")
    for name, fps in speeds.items():
        print(f"embed speed 1080p, {name:8s}: {fps:6.1f} frames/s")
    print()
    print(f"{'clip':8s} {'attack':34s} {'size':>9s} {'exact':>5s} {'raw bit err':>11s} {'bit acc.':>8s} "
          f"{'sync z':>6s} {'read s':>6s}")
    for name, (rows, _, _) in results.items():
        for attack, r in rows:
            errors = "no sync" if r["raw_errors"] is None else f"{r['raw_errors']}/{M.N_CODE}"
            accuracy = "-" if r["raw_errors"] is None else f"{100 * (1 - r['raw_errors'] / M.N_CODE):.1f}%"
            exact = "yes" if r["exact"] else ("WRONG" if r["wrong"] else "no")
            size = f"{r['size'][0]}x{r['size'][1]}"
            print(f"{name:8s} {attack:34s} {size:>9s} {exact:>5s} {errors:>11s} {accuracy:>8s} {r['z']:6.1f} "
                  f"{r['seconds']:6.2f}")
    print()
    for name, (_, low, mean) in results.items():
        print(f"PSNR marked vs unmarked, {name:8s}: min {low:.2f} dB, mean {mean:.2f} dB")
    fp_z.sort(reverse=True)
    assert len(fp_z) == 100, len(fp_z)
    print(f"unmarked clips: {len(fp_z)}; sync peak ≥ {M.SYNC_MIN_Z:g}: {fp_sync}; highest sync z {fp_z[0][0]:.2f} "
          f"({fp_z[0][1]}), median {fp_z[50][0]:.2f}; read time median {np.median(fp_seconds):.2f} s")

    def rows_of(attacks, names=("previz", "natural")):
        return [r for n in names for a, r in results[n][0] if any(a.startswith(x) for x in attacks)]

    wrong = sum(r["wrong"] for n in results for _, r in results[n][0])
    print()
    print("targets (measured above, this run):")
    min_speed = min(speeds.values())
    min_psnr = min(low for _, low, _ in results.values())
    crf23 = rows_of(["re-encode CRF 23", "delivery"])
    geometry = rows_of(["720p", "crop", "trim"])
    print(f"  embedding speed 1080p ≥ 24 frames/s: {min_speed:.1f} frames/s (slowest clip) "
          f"{'PASS' if min_speed >= 24 else 'FAIL'}")
    print(f"  PSNR ≥ 40 dB: min {min_psnr:.2f} dB {'PASS' if min_psnr >= 40 else 'FAIL'}")
    for crf in (18, 23, 28):
        rows = [r for n in results for a, r in results[n][0] if a == f"re-encode CRF {crf}"]
        acc = ["no sync" if r["raw_errors"] is None else f"{100 * (1 - r['raw_errors'] / M.N_CODE):.1f}%"
               for r in rows]
        print(f"  CRF {crf}: exact {sum(r['exact'] for r in rows)}/{len(rows)} clips, bit accuracy "
              + ", ".join(f"{n} {a}" for n, a in zip(results, acc)))
    print(f"  exact recovery at CRF 23 (previz, natural): {sum(r['exact'] for r in crf23)}/{len(crf23)} "
          f"{'PASS' if all(r['exact'] for r in crf23) else 'FAIL'}")
    print(f"  exact recovery under scale/crop/trim (previz, natural): {sum(r['exact'] for r in geometry)}/"
          f"{len(geometry)} {'PASS' if all(r['exact'] for r in geometry) else 'FAIL'}")
    stress = results["stress"][0]
    print(f"  stress clip (pan + grain), all attacks: exact {sum(r['exact'] for _, r in stress)}/{len(stress)}")
    print(f"  wrong ids returned (all marked runs): {wrong}")
    print(f"  false matches on 100 unmarked clips: {fp_found} {'PASS' if fp_found == 0 else 'FAIL'}")
    print(f"bench wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
