"""The top-level MP4 boxes a C2PA signature does not cover, recorded when signing and checked when reading.

The C2PA BMFF hash (`c2pa.hash.bmff.v2/v3`) leaves some top-level boxes out by default: `ftyp`,
`free`, `skip`, `mfra` and the manifest's own `uuid` box. So a 4 KB `free` box appended to a
signed MP4, or a changed brand in `ftyp`, still reads as Trusted in c2pa: the signature is
right about the bytes it covers, but the file is no longer the bytes that were signed.

reelforge closes the gap itself: `record()` lists the unhashed boxes of the file about to be
signed (type, size, SHA-256, in file order) and `sign_file` stores that list as the signed
assertion `org.reelforge.unhashed-boxes`. `changes()` walks the signed file's top-level boxes
and names every unhashed box that was added, changed or removed since, and any bytes after the
last box. A file signed before the list existed (or by another tool) is held to what encoders
write: `ftyp` first and empty 8-byte `free` placeholders; any other unhashed box is reported.

The walk is hand-written (top-level box headers only, ~20 lines): no ISO BMFF parser is among
the project's dependencies, and none of the Python ones on the package index is a well-kept
library we would add for this (PyAV does not expose the box layout).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

UNHASHED_LABEL = "org.reelforge.unhashed-boxes"
BMFF_TYPES = ("video/mp4", "video/quicktime", "image/avif", "image/heif")
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the user type of the manifest store's uuid box
UNHASHED_BY_DEFAULT = ("ftyp", "free", "skip", "mfra")  # c2pa-rs 0.91's exclusions, besides its own uuid box
BMFF_HASH_LABELS = ("c2pa.hash.bmff", "c2pa.hash.bmff.v2", "c2pa.hash.bmff.v3")
PLACEHOLDER = ("free", 8)  # the empty box ffmpeg writes after ftyp or moov (room to grow a header in place)


@dataclass(frozen=True)
class Box:
    """One top-level box: its four-character type, where it starts and its size in bytes (header included)."""

    kind: str
    offset: int
    size: int
    is_manifest: bool = False  # the C2PA manifest store's uuid box


@dataclass(frozen=True)
class Layout:
    """A file's top-level boxes, and where bytes that are not a whole box begin (None: none)."""

    boxes: list[Box]
    stray_at: int | None
    file_size: int


def layout(path: Path) -> Layout:
    """Walk the top-level box headers of an ISO BMFF file (MP4, MOV, ...)."""
    boxes: list[Box] = []
    with Path(path).open("rb") as handle:
        end = handle.seek(0, 2)
        offset = 0
        while offset < end:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                return Layout(boxes, offset, end)
            size, kind = struct.unpack(">I4s", header[:8])
            length = 8
            if size == 1:  # a 64-bit size follows the type
                if len(header) < 16:
                    return Layout(boxes, offset, end)
                size, length = struct.unpack(">Q", header[8:16])[0], 16
            elif size == 0:  # the last box runs to the end of the file
                size = end - offset
            if size < length or offset + size > end:
                return Layout(boxes, offset, end)
            is_manifest = False
            if kind == b"uuid":
                handle.seek(offset + length)
                is_manifest = handle.read(16) == C2PA_UUID
            boxes.append(Box(kind.decode("latin-1"), offset, size, is_manifest))
            offset += size
    return Layout(boxes, None, end)


def _box_sha256(path: Path, box: Box) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        handle.seek(box.offset)
        left = box.size
        while left:
            block = handle.read(min(left, 1 << 22))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def record(path: Path, mime: str) -> dict | None:
    """The unhashed boxes of a file about to be signed (its old manifest box left out), or None: not BMFF.

    Signing inserts the manifest's uuid box and leaves these boxes' bytes as they are, so the
    signed file must hold exactly these, in this order.
    """
    if mime not in BMFF_TYPES:
        return None
    boxes = [b for b in layout(path).boxes if b.kind in UNHASHED_BY_DEFAULT and not b.is_manifest]
    return {"boxes": [{"type": b.kind, "size": b.size, "sha256": _box_sha256(path, b)} for b in boxes]}


def _unhashed_kinds(manifest: Mapping) -> set[str] | None:
    """The top-level box types the manifest's BMFF hash leaves out (None: it has no BMFF hash).

    An exclusion narrowed by `data` (the manifest's own uuid box) is not a whole box type.
    """
    for item in manifest.get("assertions", []):
        if item.get("label") in BMFF_HASH_LABELS:
            kinds = set()
            for exclusion in (item.get("data") or {}).get("exclusions") or []:
                xpath = str(exclusion.get("xpath", ""))
                if xpath.count("/") == 1 and not exclusion.get("data"):
                    kinds.add(xpath.removeprefix("/"))
            return kinds
    return None


def changes(path: Path, mime: str, manifest: Mapping) -> list[tuple[str, str]]:
    """Every way the file's unhashed boxes differ from what was signed: (code, one line naming box and offset)."""
    if mime not in BMFF_TYPES:
        return []
    kinds = _unhashed_kinds(manifest)
    if kinds is None:
        return []
    found = layout(path)
    problems: list[tuple[str, str]] = []
    # The hash leaves out every C2PA uuid box, but a signed file has exactly one: its manifest store.
    problems += [("reelforge.box.added", f"{_name(box)}: a second C2PA manifest box, which the signature does "
                                         "not cover") for box in [b for b in found.boxes if b.is_manifest][1:]]
    unhashed = [b for b in found.boxes if b.kind in kinds and not b.is_manifest]
    recorded = next((a.get("data") for a in manifest.get("assertions", []) if a.get("label") == UNHASHED_LABEL), None)
    if recorded is None:
        for box in unhashed:
            if not ((box.kind == "ftyp" and box.offset == 0) or (box.kind, box.size) == PLACEHOLDER):
                problems.append(("reelforge.box.added", f"{_name(box)}: the signature does not cover it, and "
                                                        "reelforge never writes such a box"))
    else:
        expected = [r for r in recorded.get("boxes", []) if r.get("type") in kinds]
        for index, box in enumerate(unhashed):
            want = expected[index] if index < len(expected) else None
            if want is None:
                problems.append(("reelforge.box.added", f"{_name(box)} was added after signing "
                                                        "(the signature does not cover it)"))
            elif (want.get("type"), want.get("size")) != (box.kind, box.size) or \
                    want.get("sha256") != _box_sha256(path, box):
                problems.append(("reelforge.box.changed", f"{_name(box)} is not the `{want.get('type')}` box "
                                                          f"of {want.get('size')} bytes that was signed"))
        for want in expected[len(unhashed):]:
            problems.append(("reelforge.box.removed", f"the signed top-level `{want.get('type')}` box of "
                                                      f"{want.get('size')} bytes is gone"))
    if found.stray_at is not None:
        problems.append(("reelforge.box.trailing", f"{found.file_size - found.stray_at} bytes at offset "
                                                   f"{found.stray_at} are not a whole box (appended after signing?)"))
    return problems


def _name(box: Box) -> str:
    return f"top-level `{box.kind}` box at offset {box.offset} ({box.size} bytes)"
