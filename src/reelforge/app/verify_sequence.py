"""Checking a delivered frame sequence folder (deliver/sequence.py): `reelforge verify FOLDER`.

In this order, each failure one line:
1. the signature: `manifest.signature.json` signs exactly `manifest.json`, by a certificate chain that
   leads to the production's trust anchor (a changed manifest, or a signature that is not the
   production's, stops here: nothing else in the folder can be trusted); and the manifest is of the
   production verify runs against (a studio chain signs for several productions: its signature
   alone does not say which);
2. the files: every file the manifest lists is there with its SHA-256, and no other file is;
3. with the production's store at hand, the pixels: each frame decodes to exactly the stored frame the
   manifest names (PNG: V // 257, every V a multiple of 257; EXR: each value one of the 256 linear
   levels), and that frame hash is the one the render of its job recorded. A frame the store no longer
   holds (`store gc`) is counted, not failed: the signed hashes still vouch for the file.

A folder that is no sequence (no manifest, a manifest of another version) is bad input: NotASequence.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from reelforge.deliver.sequence import MANIFEST, MANIFEST_FORMAT, SIGNATURE, check_manifest_signature
from reelforge.media.sequence import FRAME_FORMATS, read_8bit
from reelforge.store.frames import CorruptFrame
from reelforge.store.hashing import file_sha256
from reelforge.store.shots import ShotStore

FRAME_FIELDS = ("file", "sha256", "frame_hash")


class NotASequence(Exception):
    """The folder is not a frame sequence this version can check (exit 2)."""


@dataclass
class SequenceReport:
    folder: Path
    manifest: dict | None = None
    signer: str = ""
    at: str = ""
    problems: list[str] = field(default_factory=list)
    frames: int = 0  # frames listed
    files_ok: int = 0  # listed files present with their signed SHA-256
    pixels_checked: int = 0  # frames decoded and compared with the store
    not_in_store: int = 0  # frames the store no longer holds
    damaged_in_store: int = 0  # stored copies that failed their own hash (removed by the store)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        """'s01e01 of harbor-lights: 24 frames in 3 shots, exr (half)'."""
        m = self.manifest or {}
        image = m.get("image", {})
        return (f"{m.get('episode')} of {m.get('production')}: {self.frames} frames in {len(m.get('shots', []))} "
                f"shots, {image.get('frames_out')} ({image.get('pixel_type')})")


def production_id(spec: Path) -> str | None:
    """The series id a production's spec names (read as plain JSON: a spec broken elsewhere still says it); None
    when there is no readable spec."""
    try:
        series = json.loads(Path(spec).read_bytes()).get("series")
        return str(series["id"]) if isinstance(series, dict) and isinstance(series.get("id"), str) else None
    except (OSError, ValueError, AttributeError):
        return None


def verify_sequence(folder: Path, anchor_pem: bytes | None, store: ShotStore | None = None,
                    production: str | None = None) -> SequenceReport:
    """Check the sequence in `folder` against `anchor_pem` (and `store`'s frames and job records, if given), as a
    sequence of the production whose series id is `production` (None: whichever the manifest names)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotASequence(f"{folder}: no such folder" if not folder.exists() else f"{folder} is not a folder")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise NotASequence(f"{folder}: no {MANIFEST} here: not a frame sequence folder (`reelforge render "
                           "--frames-out png|exr` writes one)")
    report = SequenceReport(folder)
    manifest_bytes = manifest_path.read_bytes()
    try:
        record = json.loads((folder / SIGNATURE).read_bytes())
    except FileNotFoundError:
        report.problems.append(f"{SIGNATURE} is missing: the sequence is unsigned or its signature was removed")
        return report
    except (ValueError, OSError):
        report.problems.append(f"{SIGNATURE} is not a signature record (not JSON): altered")
        return report
    check = check_manifest_signature(record if isinstance(record, dict) else {}, manifest_bytes, anchor_pem)
    if not check.ok or not check.anchored:
        report.problems.append(f"signature: {check.problem or 'no trust anchor to check it against'}")
        return report
    report.signer, report.at = check.signer, str(record["at"])
    report.manifest = manifest = _parse(manifest_bytes, manifest_path)
    if production is not None and manifest.get("production") != production:
        report.problems.append(f"{MANIFEST} is of production {manifest.get('production')!r}, not {production!r} (the "
                               "production checked against): verify it with --production of its own production")
        return report
    fmt = FRAME_FORMATS[manifest["image"]["frames_out"]]
    listed = {entry["file"]: (shot, entry) for shot in manifest["shots"] for entry in shot["frames"]}
    report.frames = len(listed)
    present = _files(folder)
    for name in sorted(present - set(listed)):
        report.problems.append(f"{name}: not in the signed manifest (added)")
    for name, (shot, entry) in listed.items():
        if not _inside(name):
            report.problems.append(f"{name}: the manifest names a file outside the folder")
        elif name not in present:
            report.problems.append(f"{name}: missing (the signed manifest lists it)")
        elif file_sha256(folder / name) != entry["sha256"]:
            report.problems.append(f"{name}: its SHA-256 is not the signed one (altered)")
        else:
            report.files_ok += 1
            if store is not None:
                _check_pixels(report, store, fmt, folder / name, name, shot, entry)
    return report


def _parse(data: bytes, path: Path) -> dict:
    """The signed manifest's content; NotASequence when it is not a manifest this version reads."""
    try:
        manifest = json.loads(data)
        if manifest.get("format") != MANIFEST_FORMAT:
            raise NotASequence(f"{path}: a manifest of format {manifest.get('format')!r}, not {MANIFEST_FORMAT!r} "
                               "(written by another version of reelforge)")
        if manifest["image"]["frames_out"] not in FRAME_FORMATS:
            raise NotASequence(f"{path}: frames of an unknown kind {manifest['image']['frames_out']!r}")
        entries = [entry for shot in manifest["shots"] for entry in shot["frames"]]
        if not all(isinstance(e["shot_frame"], int) and all(isinstance(e[k], str) for k in FRAME_FIELDS)
                   for e in entries):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NotASequence(f"{path}: signed, but not a frame sequence manifest this version reads") from None
    return manifest


def _files(folder: Path) -> set[str]:
    """Every file (and link) in the folder, as a relative POSIX path; the manifest and signature left out."""
    found = set()
    for parent, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if (Path(parent) / d).is_symlink()]:
            found.add((Path(parent) / name).relative_to(folder).as_posix())
    return found - {MANIFEST, SIGNATURE}


def _inside(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def _check_pixels(report: SequenceReport, store: ShotStore, fmt, path: Path, name: str, shot: dict,
                  entry: dict) -> None:
    """The file decodes to the stored frame it names, and that frame is the one its job's render recorded."""
    recorded = store.job(str(shot.get("job_key"))).read_manifest()
    index = entry["shot_frame"]
    if recorded is not None and 0 <= index < len(recorded) and recorded[index] != entry["frame_hash"]:
        report.problems.append(f"{name}: frame {index} of {shot.get('shot')} is {recorded[index][:12]}… in the "
                               f"render of its job, not {entry['frame_hash'][:12]}… as the manifest says")
        return
    try:
        stored = store.frames.get(entry["frame_hash"])
    except FileNotFoundError:
        report.not_in_store += 1
        return
    except CorruptFrame:
        report.damaged_in_store += 1
        return
    try:
        pixels = read_8bit(fmt, path)
    except ValueError as exc:
        report.problems.append(f"{name}: {exc}")
        return
    if not np.array_equal(pixels, stored):
        report.problems.append(f"{name}: its pixels are not the stored frame {entry['frame_hash'][:12]}…")
        return
    report.pixels_checked += 1
