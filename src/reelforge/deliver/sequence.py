"""A delivered frame sequence: a folder per episode (or clip), a folder per shot of numbered frames, a signed manifest.

`reelforge render --frames-out png|exr|exr-float` writes one beside each delivered video, named
after it and the frame format (`.png-sequence`, `.exr-sequence`, `.exr-float-sequence`: a folder, never
taken for a file of that type):

    renders/s01e01.mp4
    renders/s01e01.exr-sequence/
        manifest.json              every frame: its number, the store's frame hash, the file's SHA-256
        manifest.signature.json    the manifest's signature, with the certificate chain that made it
        sc01.sh01/
            s01e01.sc01.sh01.1001.exr
            s01e01.sc01.sh01.1002.exr …
        sc01.sh02/ …

Names are joined with '.', which no id can contain: a sequence folder never takes a named delivery's
folder (`renders/<name>/`), and no two shots share a folder or a file name (an '_' would: scene `x_y`
shot `z` and scene `x` shot `y_z`).

A shot's frames are numbered from 1001 (frame 0 of the shot is 1001), padded to four digits: the
convention compositing and grading tools expect (room for handles before the first frame, and a
number that never reads as an index). The manifest says where each shot sits in the episode
(`record_in`) for conforming.

The frames are the render's own, read from the store by the hashes the render recorded: writing a
sequence renders nothing, and a sequence has neither the video's visible watermark nor its
invisible mark (they are applied to the encoded delivery). Files are written by media/sequence.py.

The manifest is canonical JSON with no time and no absolute path, so the same render gives the same
folder byte for byte; only the signature differs. The signature is the production's signing
identity (trust/identity.py: the key and chain that sign its Content Credentials and the change
log's checkpoints, ES256 or Ed25519) over `reelforge frame sequence / SHA-256 of manifest.json /
time`, made and checked as the change log's checkpoints are (records/changelog.py).

The folder is written under a hidden temporary name in the same place and renamed into place when
complete: a reader sees the previous folder, none, or the whole new one. Only a folder with a
manifest (a sequence) is ever replaced: anything else in the way is said, never removed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reelforge import __version__
from reelforge.media.sequence import FRAME_FORMATS, FrameFormat, write_frame
from reelforge.records.changelog import SignatureCheck, check_signature, sign_body
from reelforge.store.catalog import utc_now
from reelforge.store.frames import CorruptFrame, FrameStore
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import SEQUENCE_SUFFIX, SEQUENCE_WORK

MANIFEST = "manifest.json"
SIGNATURE = "manifest.signature.json"
MANIFEST_FORMAT = "reelforge frame sequence 1"
SIGNATURE_FORMAT = "reelforge frame sequence signature 1"
ORIGIN = "reelforge frame sequence"  # the signed body's first line: no checkpoint signature can pass for one
FIRST_NUMBER = 1001
PADDING = 4
NUMBERING = ("file number = 1001 + the frame's index in its shot (the post-production convention: room for "
             "handles before the first frame)")
SOURCE = ("the render's 8-bit RGB frames from the production's store (frame_hash: SHA-256 of the raw RGB24 "
          "pixels, as the render recorded them), converted exactly; no visible watermark, no invisible mark")
PARTIAL, OLD = SEQUENCE_WORK  # hidden folders beside the sequence while it is written and replaced (swept by renders)
WRITERS = 4  # frames converted at once (zlib and OpenEXR release the GIL) ...
WRITE_BUDGET = 1 << 30  # ... while their working copies (≈ 8 bytes a pixel channel) fit 1 GiB: one at a time at 8K


class SequenceError(Exception):
    """A sequence cannot be written as asked (an unknown format, a frame gone from the store): exit 2."""


@dataclass(frozen=True)
class WrittenSequence:
    folder: Path
    frames: int
    shots: int
    signed: bool


def frame_format(name: str) -> FrameFormat:
    """The FrameFormat `--frames-out NAME` names; SequenceError listing the choices."""
    if name not in FRAME_FORMATS:
        raise SequenceError(f"--frames-out must be {', '.join(FRAME_FORMATS)}; got '{name}'")
    return FRAME_FORMATS[name]


def sequence_folder(video: Path, fmt: FrameFormat) -> Path:
    """Where the sequence of a delivered video goes: beside it, named after it and the frame format
    (s01e01.exr-sequence; take-2.png-sequence beside takes/…/take-2.mp4)."""
    return video.with_name(f"{video.stem}.{fmt.name}{SEQUENCE_SUFFIX}")


def deliver_sequences(results: Iterable, fmt_name: str, frames: FrameStore, identity, production: str
                      ) -> list[WrittenSequence]:
    """One sequence per delivered video in `results` (engine RenderResults: `output`, `kind`, `episode_id`,
    `shots` with `job`, `first_frame`, `frame_hashes`), signed with `identity` (None: unsigned)."""
    fmt = frame_format(fmt_name)
    return [write_sequence(sequence_folder(r.output, fmt), frames, fmt, production=production, episode=r.episode_id,
                           video=r.output.name, shots=r.shots, episode_timeline=r.kind == "episode",
                           identity=identity) for r in results]


def write_sequence(folder: Path, frames: FrameStore, fmt: FrameFormat, *, production: str, episode: str, video: str,
                   shots: Sequence, episode_timeline: bool, identity) -> WrittenSequence:
    """Write the frames of `shots` as `fmt` into `folder` (replacing it as one), with the signed manifest."""
    folder = Path(folder)
    _sweep(folder)
    _refuse_other(folder)  # before any frame is written; _replace checks again
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.{PARTIAL}-"))
    try:
        manifest = _write_frames(temp, frames, fmt, shots, episode, episode_timeline)
        manifest.update({"production": production, "episode": episode, "video": video})
        body = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False).encode()
        _write(temp / MANIFEST, body + b"\n")
        if identity is not None:
            _write(temp / SIGNATURE, json.dumps(sign_manifest(body + b"\n", identity), indent=1).encode() + b"\n")
        os.chmod(temp, 0o755)  # mkdtemp makes 0700; a delivery is readable like the videos beside it
        _replace(temp, folder)
    except OSError as error:  # about the folder the user knows, not the hidden one being written
        if error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(folder)) from error
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return WrittenSequence(folder, sum(len(s.frame_hashes) for s in shots), len(shots), identity is not None)


def shot_folder(job) -> str:
    """'sc01.sh01': the shot's folder inside the sequence ('.' occurs in no id: no two shots share one)."""
    return f"{job.scene_id}.{job.shot_id}"


def frame_file(job, episode: str, number: int, fmt: FrameFormat) -> str:
    """'sc01.sh01/s01e01.sc01.sh01.1001.exr' (a take other than the first adds '.take2')."""
    take = f".take{job.take}" if job.take else ""
    return f"{shot_folder(job)}/{episode}.{job.scene_id}.{job.shot_id}{take}.{number:0{PADDING}d}{fmt.suffix}"


def _write_frames(temp: Path, frames: FrameStore, fmt: FrameFormat, shots: Sequence, episode: str,
                  episode_timeline: bool) -> dict:
    """Every shot's frames written into `temp`; the manifest's content (less who and what it is of)."""
    tasks, records, record_in = [], [], 0
    for shot in shots:
        job = shot.job
        (temp / shot_folder(job)).mkdir()
        entries = []
        for i, digest in enumerate(shot.frame_hashes):
            index = shot.first_frame + i
            name = frame_file(job, episode, FIRST_NUMBER + index, fmt)
            entries.append({"number": FIRST_NUMBER + index, "shot_frame": index, "file": name, "frame_hash": digest})
            tasks.append((job.shot_path, digest, temp / name))
        records.append({"shot": job.shot_path, "take": job.take, "job_key": job.key, "folder": shot_folder(job),
                        "record_in": record_in if episode_timeline else None, "frames": entries})
        record_in += len(shot.frame_hashes)
    first = shots[0].job if shots else None
    per_frame = 8 * 3 * (first.canvas_width * first.canvas_height if first else 1)
    with ThreadPoolExecutor(max_workers=max(1, min(WRITERS, WRITE_BUDGET // per_frame))) as pool:
        written = list(pool.map(lambda task: _write_one(frames, fmt, *task), tasks))
    for entry, sha in zip((e for r in records for e in r["frames"]), written, strict=True):
        entry["sha256"] = sha
    return {"format": MANIFEST_FORMAT, "reelforge": __version__, "frame_count": len(tasks),
            "fps": first.fps if first else None, "width": first.canvas_width if first else None,
            "height": first.canvas_height if first else None, "numbering": NUMBERING, "source": SOURCE,
            "image": {"frames_out": fmt.name, **fmt.describe()}, "shots": records}


def _write_one(frames: FrameStore, fmt: FrameFormat, shot_path: str, digest: str, path: Path) -> str:
    try:
        frame = frames.get(digest)
    except (FileNotFoundError, CorruptFrame):
        raise SequenceError(f"{shot_path}: frame {digest[:12]}… is not in the store (removed by `reelforge store "
                            "gc`, or damaged): render the episode again to restore it") from None
    write_frame(fmt, frame, path)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return file_sha256(path)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _sweep(folder: Path) -> None:
    """Remove what a killed writer of this sequence left beside it (the caller holds the production's lock)."""
    if not folder.parent.is_dir():
        folder.parent.mkdir(parents=True)
        return
    for kind in (PARTIAL, OLD):
        for stale in folder.parent.glob(f".{folder.name}.{kind}-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _refuse_other(folder: Path) -> bool:
    """Whether a sequence is at `folder` (to be replaced); SequenceError when something else is."""
    if not (folder.exists() or folder.is_symlink()):
        return False
    if folder.is_symlink() or not folder.is_dir() or not (folder / MANIFEST).is_file():
        raise SequenceError(f"{folder} is in the way and is not a frame sequence (no {MANIFEST}): move it away, "
                            "then render again")
    return True


def _replace(temp: Path, folder: Path) -> None:
    """Rename the finished `temp` to `folder`; a previous sequence there is moved aside first, then removed.
    SequenceError when something other than a sequence (no manifest.json: a file, someone's folder) is there."""
    old = None
    if _refuse_other(folder):
        old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.{OLD}-")) / folder.name
        os.rename(folder, old)
    try:
        os.rename(temp, folder)
    except OSError:
        if old is not None:
            os.rename(old, folder)
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


# --- the signature --------------------------------------------------------------------------------

def signed_body(manifest_sha256: str, at: str) -> bytes:
    """What a sequence's signature covers: origin, the manifest's SHA-256, the signing time."""
    return f"{ORIGIN}\n{manifest_sha256}\ntime {at}\n".encode()


def sign_manifest(manifest: bytes, identity, at: str | None = None) -> dict:
    """The signature record of a manifest's bytes: algorithm, time, signature, certificate chain."""
    at = at or utc_now()
    digest = hashlib.sha256(manifest).hexdigest()
    chain = identity.chain_pem.decode() if isinstance(identity.chain_pem, bytes) else identity.chain_pem
    return {"format": SIGNATURE_FORMAT, "signs": MANIFEST, "manifest_sha256": digest, "at": at,
            "algorithm": identity.algorithm, "signature": base64.b64encode(sign_body(identity, signed_body(digest, at)))
            .decode(), "certificate_chain": chain}


def check_manifest_signature(record: dict, manifest: bytes, anchor_pem: bytes | None) -> SignatureCheck:
    """Whether `record` signs exactly these manifest bytes, by a chain leading to `anchor_pem`."""
    try:
        digest, at = str(record["manifest_sha256"]), str(record["at"])
        signature, chain = str(record["signature"]), str(record["certificate_chain"])
    except (KeyError, TypeError):
        return SignatureCheck(False, problem=f"{SIGNATURE} is not a signature record (fields missing)")
    if hashlib.sha256(manifest).hexdigest() != digest:
        return SignatureCheck(False, problem=f"{MANIFEST} was changed after it was signed (its SHA-256 is not the "
                                             "signed one)")
    return check_signature(signed_body(digest, at), signature, chain, at, anchor_pem)
