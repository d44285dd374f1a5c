"""The frame store's codec, chosen by measurement: lossless candidates on previz, tiny-model and natural frames.

Run: `pip install -e '.[bench]'` once (scikit-image, for the photographs its wheel ships: no
download), then `python bench/store.py`. Every number is measured in this one run, on one core
(each codec told to use one thread), and printed as a ratio to zlib level 1, what the store wrote
before: size (lower is better) and encode speed (higher is better), per class of frame:

- previz: the bundled example's gray-box at 1080p, and two textured style families on it;
- tiny model: a frame of the tiny random-weight SDXL checkpoint (256², finished to 1080p);
- natural: the colour photographs scikit-image ships, scaled to 1080p (Lanczos), and one with grain.

Then the store itself (store/frame_codec.py's rule through `FrameStore`), per core, at 1080p and
4K: what a render writes (`put`: hash, compress, write) and what a farm's driver accepts from a
worker (`put_encoded`: prove the header, decode, re-hash, write), in frames/s and MB/s of pixels.
Target (issue 21): ≥ 25 % fewer bytes than zlib on natural frames at ≥ 5× its encode speed.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
from _common import example
from PIL import Image

from reelforge.backends.models import resolve_model
from reelforge.backends.runtime import Runtime
from reelforge.backends.tiny import make_tiny
from reelforge.engine.shot import Backends
from reelforge.plan.jobs import plan
from reelforge.post.pipeline import finish_frame
from reelforge.spec.load import load_production
from reelforge.store import frame_codec
from reelforge.store.frames import FrameStore, decode_frame, encode_frame, frame_hash

PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "motorcycle_left.png", "rocket.jpg", "retina.jpg"]
ONE = {"numthreads": 1}

# name → (encode(frame) → bytes, decode(bytes, frame) → pixels): every candidate lossless
CANDIDATES = {
    "zlib 1 (before)": (lambda f: zlib.compress(f.data, 1), lambda b, f: zlib.decompress(b)),
    "zstd 3": (lambda f: imagecodecs.zstd_encode(f.tobytes(), level=3), lambda b, f: imagecodecs.zstd_decode(b)),
    "PNG 1": (lambda f: imagecodecs.png_encode(f, level=1), lambda b, f: imagecodecs.png_decode(b)),
    "QOI": (lambda f: imagecodecs.qoi_encode(f), lambda b, f: imagecodecs.qoi_decode(b)),
    "JPEG XL e1": (lambda f: imagecodecs.jpegxl_encode(f, lossless=True, effort=1, **ONE),
                   lambda b, f: imagecodecs.jpegxl_decode(b, **ONE)),
    "WebP lossless m0": (lambda f: imagecodecs.webp_encode(f, lossless=True, method=0, level=0, **ONE),
                         lambda b, f: imagecodecs.webp_decode(b)),
    "JPEG-LS": (lambda f: imagecodecs.jpegls_encode(f), lambda b, f: imagecodecs.jpegls_decode(b)),
    "HTJ2K": (lambda f: imagecodecs.htj2k_encode(f, level=0), lambda b, f: imagecodecs.htj2k_decode(b)),
    "reelforge (zstd | JPEG XL)": (encode_frame, lambda b, f: decode_frame(b)),  # header included
}


def timed(fn, runs: int) -> tuple[object, float]:
    """(result, median seconds) of `runs` calls."""
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return result, statistics.median(seconds)


def previz_frames(folder: Path) -> dict[str, np.ndarray]:
    frames = {}
    for style in ("gray-box", "watercolor", "pen-and-ink"):
        spec = example()
        spec["style"] = {"preset": style}
        (folder / style).mkdir()
        (folder / style / "production.json").write_text(json.dumps(spec))
        job = plan(load_production(folder / style / "production.json"))[0].jobs[1]
        (_, picture), = Backends().get(job.backend).render(job, [5])
        frames[f"previz {style}"] = finish_frame(job, 5, picture)
    return frames


def tiny_model_frames(folder: Path) -> dict[str, np.ndarray]:
    make_tiny(folder / "checkpoint", "sdxl")
    spec = example()
    spec["backend"] = "sdxl"
    spec["model"] = {"checkpoint": "checkpoint", "steps": 2, "width": 256, "height": 256}
    (folder / "production.json").write_text(json.dumps(spec))
    production = load_production(folder / "production.json")
    job = plan(production, model=resolve_model(production, Runtime("cpu", 1), folder))[0].jobs[0]
    return {f"tiny SDXL frame {index}": finish_frame(job, index, picture)
            for index, picture in Backends().get(job.backend).render(job, [0, 1, 2])}


def natural_frames(size: tuple[int, int]) -> dict[str, np.ndarray]:
    try:
        import skimage
    except ImportError:
        sys.exit("bench/store.py needs the photographs scikit-image ships: pip install -e '.[bench]'")
    data = Path(skimage.__file__).parent / "data"
    frames = {name: np.asarray(Image.open(data / name).convert("RGB").resize(size, Image.LANCZOS))
              for name in PHOTOS}
    grain = np.random.default_rng(0).normal(0, 3, frames["coffee.png"].shape)
    frames["coffee.png + grain"] = np.clip(frames["coffee.png"] + grain, 0, 255).astype(np.uint8)
    return frames


def compare(classes: dict[str, dict[str, np.ndarray]]) -> None:
    """Each candidate's size and encode speed against zlib level 1, per class of frame (means of ratios)."""
    rows: dict[str, dict[str, tuple[list[float], list[float], list[float]]]] = {}
    for cls, frames in classes.items():
        for frame in frames.values():
            baseline, zlib_seconds = timed(lambda: CANDIDATES["zlib 1 (before)"][0](frame), 3)
            for name, (encode, decode) in CANDIDATES.items():
                payload, seconds = timed(lambda: encode(frame), 3)
                pixels, decode_seconds = timed(lambda: decode(payload, frame), 2)
                if not np.array_equal(np.frombuffer(np.ascontiguousarray(pixels).data, np.uint8),
                                      np.frombuffer(frame.data, np.uint8)):
                    sys.exit(f"{name} is not lossless on a {cls} frame")
                sizes, speeds, decodes = rows.setdefault(name, {}).setdefault(cls, ([], [], []))
                sizes.append(len(payload) / len(baseline))
                speeds.append(zlib_seconds / seconds)
                decodes.append(decode_seconds * 1000)
    print("\nsize vs zlib 1 (lower is better) · encode speed vs zlib 1 (higher is better) · decode ms, one core")
    header = " | ".join(f"{cls:^26}" for cls in classes)
    print(f"{'codec':28} | {header}")
    for name, per_class in rows.items():
        cells = []
        for cls in classes:
            sizes, speeds, decodes = per_class[cls]
            cells.append(f"{statistics.mean(sizes):5.2f} · {statistics.mean(speeds):5.1f}× · {statistics.mean(decodes):4.0f} ms")
        print(f"{name:28} | " + " | ".join(f"{c:^26}" for c in cells))


def throughput(name: str, frames: list[np.ndarray]) -> None:
    """Frames/s and MB/s (of pixels) one core writes (`put`) and a farm driver accepts (`put_encoded`)."""
    with tempfile.TemporaryDirectory() as tmp:
        local, worker, driver = (FrameStore(Path(tmp) / part) for part in ("local", "worker", "driver"))
        started = time.perf_counter()
        digests = [local.put(frame, frame_hash(frame)) for frame in frames]
        put_seconds = time.perf_counter() - started
        sent = [(worker.read_encoded(worker.put(frame)), frame.shape[:2]) for frame in frames]
        started = time.perf_counter()
        for (data, shape), digest in zip(sent, digests, strict=True):
            driver.put_encoded(data, digest, shape)
        accept_seconds = time.perf_counter() - started
        stored = sum(local.path(d).stat().st_size for d in set(digests)) / len(set(digests))
    pixels = sum(f.nbytes for f in frames) / 1e6
    print(f"{name:34} write {len(frames) / put_seconds:6.1f} frames/s {pixels / put_seconds:6.0f} MB/s · "
          f"driver accepts {len(frames) / accept_seconds:6.1f} frames/s {pixels / accept_seconds:6.0f} MB/s · "
          f"{stored / 1e6:5.2f} MB a frame stored")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        previz = previz_frames(Path(tmp))
        tiny = tiny_model_frames(Path(tmp) / "tiny")
    natural = natural_frames((1920, 1080))
    for name, frame in {**previz, **tiny, **natural}.items():
        kind, payload = frame_codec.encode(frame)
        print(f"{name:28} stored as {frame_codec.NAMES[kind]:6} {len(payload) / frame.nbytes:6.1%} of raw, "
              f"zlib 1 {len(zlib.compress(frame.data, 1)) / frame.nbytes:6.1%}")
    compare({"previz (3 styles)": previz, "tiny model": tiny, "natural (7 photos)": natural})

    print("\nthe store, one core (frames/s and MB/s of RGB pixels in):")
    natural_4k = natural_frames((3840, 2160))
    throughput("1080p natural (7 photos)", list(natural.values()))
    throughput("1080p tiny SDXL (3 frames)", list(tiny.values()))
    throughput("1080p previz (3 styles)", list(previz.values()))
    throughput("4K natural (7 photos)", list(natural_4k.values()))
    previz_4k = [np.asarray(Image.fromarray(f).resize((3840, 2160), Image.LANCZOS)) for f in previz.values()]
    throughput("4K previz (3 styles, scaled)", previz_4k)


if __name__ == "__main__":
    main()
