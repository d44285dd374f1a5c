"""Uploaded files (a suspect copy to trace): checked as they stream in, held only for their request, the folder capped.

An upload is written as it arrives to a temporary file in `<production>/.reelforge/uploads/`,
counted and hashed on the way. It is refused, and its partial file removed, without reading the rest:
- when its first bytes are not those of a video container the studio reads (MP4/MOV, Matroska/WebM,
  AVI, MPEG-TS): 415, decided on the first SNIFF_BYTES, whatever name or type the client sent;
- past the per-upload limit: 413 (a declared Content-Length over it is refused before anything is read,
  but the count is what decides: a request can lie about its length);
- when the uploads of this studio would hold more than the folder's cap, or the disk is full: 507;
- when the client goes away or the multipart data stops before its closing boundary (the file may be cut short).
What the route needs beyond the first bytes (decodable as video, for a trace) it checks on the whole
file; the file is removed once the request is answered (`Upload` is a context manager), so the folder
holds only uploads in progress. While held, the file is locked (flock): a render or a studio starting
sweeps what a killed process left (ProductionPaths.remove_stale_uploads) and passes a held one by.
No client-given name or path ever reaches the file system.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import AsyncIterable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from reelforge.store.paths import UPLOAD_CLAIMING_PREFIX as CLAIMING_PREFIX
from reelforge.store.paths import UPLOAD_INCOMING_PREFIX as INCOMING_PREFIX
from reelforge.store.paths import UPLOAD_INCOMING_SUFFIX as INCOMING_SUFFIX

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # one upload (a suspect episode file); larger ones are refused with 413
MAX_UPLOADS_FOLDER_BYTES = 2 * 1024 * 1024 * 1024  # all uploads held at once (four of the largest); past it, 507
MULTIPART_ALLOWANCE = 64 * 1024  # what a multipart request may add around the file (boundaries, part headers)
MAX_PARTS = 32  # parts a multipart request may have (a browser sends one: the file)
SNIFF_BYTES = 512  # enough of a file's start to tell its container
VIDEO_CONTAINERS = "MP4, MOV, Matroska, WebM, AVI or MPEG-TS"


class UploadRefused(Exception):
    """An upload that is not kept: `status` is the HTTP status a web client gets (400 bad, 413 too large, …)."""

    status = 400


class UploadTooLarge(UploadRefused):
    status = 413


class NotAVideoUpload(UploadRefused):
    status = 415


class UploadFailed(UploadRefused):
    """The server could not write the upload (not the client's fault)."""

    status = 500


class UploadsFull(UploadRefused):
    """The folder's cap or the disk has no room for the upload (507 Insufficient Storage)."""

    status = 507


def too_large_message(limit: int) -> str:
    return f"the file is larger than the {_size(limit)} an upload may be"


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


def sniff_video(head: bytes) -> str | None:
    """The container that content starting with `head` is in (a file-name suffix), or None if not a video."""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # QuickTime files that start without ftyp
        return ".mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM (its DocType says which)
        return ".webm" if b"webm" in head[:64] else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # MPEG-TS: a sync byte every 188 bytes
        return ".ts"
    return None


def check_declared_length(declared: str | None, limit: int, allowance: int = 0) -> None:
    """Refuse early when the request says it is too large (UploadTooLarge); a missing or odd value says nothing."""
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise UploadRefused(f"Content-Length {declared!r} is not a number") from None
    if length > limit + allowance:
        raise UploadTooLarge(too_large_message(limit))


def _write_refusal(exc: OSError, folder: Path) -> UploadRefused:
    """A failed write as a refusal a user can act on (a full disk is 507, anything else 500)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UploadsFull(f"no space left on the disk for the upload in {folder}: free some space and send it again")
    return UploadFailed(f"the upload could not be written to {folder} ({exc.strerror or exc}): "
                        "check that the folder is writable and send it again")


class UploadFolder:
    """`.reelforge/uploads/` of one studio: the per-upload limit, the cap on what its uploads hold at once.

    Every byte written is claimed against the cap and released when the upload is removed, so
    concurrent uploads together never hold more than `cap` bytes (past it, the one writing is refused, 507).
    """

    def __init__(self, path: Path, limit: int = MAX_UPLOAD_BYTES, cap: int = MAX_UPLOADS_FOLDER_BYTES) -> None:
        self.path, self.limit, self.cap = path, limit, cap
        self._lock = threading.Lock()
        self.held = 0  # bytes the uploads of this studio hold now

    def claim(self, count: int) -> None:
        with self._lock:
            if self.held + count > self.cap:
                raise UploadsFull(f"the uploads in progress already hold {_size(self.held)} of the {_size(self.cap)}"
                                  " the studio allows at once: send the file again when one has finished")
            self.held += count

    def release(self, count: int) -> None:
        with self._lock:
            self.held -= count


class Upload:
    """One upload's temporary file, locked while it is held; counted, hashed and sniffed as it is written.

    `write` refuses (UploadRefused) and removes the file at the first bad byte; `finish` checks the
    whole of it and returns it for the route to read; `remove` (or leaving the `with` block) deletes it.
    """

    def __init__(self, folder: UploadFolder) -> None:
        self.folder = folder
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=folder.path, prefix=CLAIMING_PREFIX, suffix=INCOMING_SUFFIX)
            fcntl.flock(fd, fcntl.LOCK_EX)  # held: a sweep of stale uploads leaves it (released on close)
            self.path = Path(name).with_name(INCOMING_PREFIX + Path(name).name.removeprefix(CLAIMING_PREFIX))
            os.rename(name, self.path)  # only now a sweep sees it, already locked
        except OSError as exc:
            raise _write_refusal(exc, folder.path) from None
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._head = b""
        self.container: str | None = None  # the sniffed container's suffix, once known
        self.size = 0
        self.sha256 = ""

    def write(self, data: bytes) -> None:
        with self._removed_on_error():
            if self.size + len(data) > self.folder.limit:
                raise UploadTooLarge(too_large_message(self.folder.limit))
            self.folder.claim(len(data))
            self.size += len(data)
            if self.container is None and len(self._head) < SNIFF_BYTES:
                self._head += data[:SNIFF_BYTES - len(self._head)]
                if len(self._head) == SNIFF_BYTES:
                    self._sniff()
            self._hash.update(data)
            self._file.write(data)

    @contextmanager
    def _removed_on_error(self) -> Iterator[None]:
        """Any error removes the file (a refusal as it is, a failed write as a refusal a user can act on)."""
        try:
            yield
        except OSError as exc:
            self.remove()
            raise _write_refusal(exc, self.folder.path) from None
        except BaseException:
            self.remove()
            raise

    def _sniff(self) -> None:
        self.container = sniff_video(self._head)
        if self.container is None:
            raise NotAVideoUpload(f"the file is not a video: its first bytes are not those of an {VIDEO_CONTAINERS}"
                                  " file (send the video itself)")

    def finish(self) -> Self:
        """The complete upload, its first bytes checked; still held (remove it once the request is answered)."""
        with self._removed_on_error():
            if self.size == 0:
                raise UploadRefused("the file is empty")
            if self.container is None:  # shorter than SNIFF_BYTES
                self._sniff()
            self._file.flush()
        self.sha256 = self._hash.hexdigest()
        return self

    def remove(self) -> None:
        """Delete the file and give its bytes back to the folder's cap (again: nothing)."""
        if self._file.closed:
            return
        self.path.unlink(missing_ok=True)  # before closing: the lock keeps a sweep away until the file is gone
        self._file.close()
        self.folder.release(self.size)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.remove()


def store_stream(chunks: Iterable[bytes], folder: UploadFolder) -> Upload:
    """Take in a file given as chunks of bytes (a file read piece by piece, a plain request body)."""
    upload = Upload(folder)
    for chunk in chunks:
        upload.write(chunk)
    return upload.finish()


async def store_multipart(body: AsyncIterable[bytes], content_type: str, content_length: str | None,
                          folder: UploadFolder, field: str = "file") -> Upload:
    """Take in the file in multipart part `field` of a request body, as the body streams in.

    Nothing but that part's bytes reaches the disk; the part's file name is ignored. The whole
    body may be at most the folder's limit + MULTIPART_ALLOWANCE bytes, the file at most the limit.
    Raises UploadRefused: not multipart, no such part, more than one, more than MAX_PARTS parts, empty,
    malformed, ended before its closing boundary; NotAVideoUpload, UploadTooLarge, UploadsFull. On any
    error (a client gone included) nothing is left; what it returns is held until removed.
    """
    limit = folder.limit
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadRefused(f"send the file as multipart/form-data in a field named {field!r}")
    check_declared_length(content_length, limit, MULTIPART_ALLOWANCE)
    body_limit = limit + MULTIPART_ALLOWANCE
    parts: list[dict] = []  # per part: its Content-Disposition, and whether it is the file
    header: dict[str, bytes] = {"name": b"", "value": b""}
    pending: list[bytes] = []  # file bytes parsed from the current chunk, written after it
    ended: list[bool] = []  # the closing boundary was read

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise UploadRefused(f"the request has more than {MAX_PARTS} parts: send just the file, in {field!r}")
        parts.append({"disposition": b"", "is_file": False})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        if header["name"].strip().lower() == b"content-disposition":
            parts[-1]["disposition"] = header["value"]
        header["name"], header["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(parts[-1]["disposition"])
        if disposition.get(b"name") == field.encode():
            if any(part["is_file"] for part in parts[:-1]):
                raise UploadRefused(f"send one file at a time (the request has more than one {field!r} part)")
            parts[-1]["is_file"] = True

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if parts[-1]["is_file"]:
            pending.append(data[start:end])
            return
        parts[-1]["other_bytes"] = parts[-1].get("other_bytes", 0) + end - start
        if parts[-1]["other_bytes"] > MULTIPART_ALLOWANCE:  # another field: nothing the studio reads is this big
            raise UploadRefused(f"a part other than the file is over {_size(MULTIPART_ALLOWANCE)}: send just the "
                                f"file, in {field!r}")

    parser = MultipartParser(options[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_end": lambda: ended.append(True)})
    upload = await anyio.to_thread.run_sync(Upload, folder)
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > body_limit:
                raise UploadTooLarge(too_large_message(limit))
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise UploadRefused(f"the request is not well-formed multipart data ({exc})") from None
            if pending:
                data = b"".join(pending)
                pending.clear()
                await anyio.to_thread.run_sync(upload.write, data)  # hashing and disk off the event loop
            if ended:  # past the closing boundary: nothing more to read
                break
        try:
            parser.finalize()
        except FormParserError as exc:
            raise UploadRefused(f"the request is not well-formed multipart data ({exc})") from None
        if not any(part["is_file"] for part in parts):
            raise UploadRefused(f"no file: send it in the multipart field {field!r}")
        if not ended:  # parser.finalize() does not check this: a short body would keep a truncated file
            raise UploadRefused("the request ended before its multipart data did (the file may be cut short): "
                                "send it again")
        return await anyio.to_thread.run_sync(upload.finish)
    except BaseException:
        upload.remove()
        raise
