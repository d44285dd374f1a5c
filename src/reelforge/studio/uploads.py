"""Uploaded files (a suspect copy to trace): streamed to disk under a size limit, kept by content hash.

An upload is written as it arrives to a temporary file in `<production>/.reelforge/uploads/`,
counted and hashed on the way; past the limit it is refused (and the partial file removed)
without reading the rest. A declared Content-Length over the limit is refused before anything
is read, but the count is what decides: a request can lie about its length (and one whose
multipart data stops before its closing boundary is refused: the file may be cut short). While
it arrives the temporary file is locked (flock), so a render sweeping the temporary files a killed
process left (ProductionPaths.remove_stale_temp_files) passes it by. When complete, the
file is renamed atomically to `<sha256><suffix>`, the suffix picked from the content's first
bytes (never from the name the client sent), so the same content uploaded twice is one file and
no client-given name or path ever reaches the file system.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from reelforge.store.paths import UPLOAD_INCOMING_PREFIX as INCOMING_PREFIX
from reelforge.store.paths import UPLOAD_INCOMING_SUFFIX as INCOMING_SUFFIX

MULTIPART_ALLOWANCE = 64 * 1024  # what a multipart request may add around the file (boundaries, part headers)
MAX_PARTS = 32  # parts a multipart request may have (a browser sends one: the file)
SNIFF_BYTES = 512  # enough of a file's start to tell its container
SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".ts", ".bin")  # every name an upload can get


class UploadRefused(Exception):
    """An upload that is not kept: `status` is the HTTP status a web client gets (400 bad, 413 too large)."""

    status = 400


class UploadTooLarge(UploadRefused):
    status = 413


def too_large_message(limit: int) -> str:
    return f"the file is larger than the {_size(limit)} an upload may be"


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


def sniff_suffix(head: bytes) -> str:
    """The file-name suffix for content starting with `head`: one of SUFFIXES, never anything else."""
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
    return ".bin"


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


@dataclass(frozen=True)
class StoredUpload:
    path: Path  # <uploads>/<sha256><suffix>
    sha256: str
    size: int
    existed: bool  # the same content was uploaded before (the file was already there)


class UploadWriter:
    """A temporary file in the uploads folder that counts and hashes what is written to it.

    `write` raises UploadTooLarge past `limit` (the partial file is removed); `finish` names the
    file by its hash; `abort` removes it. Use it as a context manager to abort on any error.
    """

    def __init__(self, folder: Path, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.limit = folder, limit
        fd, name = tempfile.mkstemp(dir=folder, prefix=INCOMING_PREFIX, suffix=INCOMING_SUFFIX)
        fcntl.flock(fd, fcntl.LOCK_EX)  # in progress: a sweep of stale temporary files leaves it (released on close)
        self.temp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._head = b""
        self.size = 0

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.limit:
            self.abort()
            raise UploadTooLarge(too_large_message(self.limit))
        if len(self._head) < SNIFF_BYTES:
            self._head += data[:SNIFF_BYTES - len(self._head)]
        self._hash.update(data)
        self._file.write(data)
        self.size += len(data)

    def finish(self) -> StoredUpload:
        if self.size == 0:
            self.abort()
            raise UploadRefused("the file is empty")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        target = self.folder / f"{digest}{sniff_suffix(self._head)}"
        existed = target.is_file()
        if existed:  # same bytes, same name: keep the one there
            self.temp.unlink(missing_ok=True)
        else:
            os.chmod(self.temp, 0o644)
            os.replace(self.temp, target)
        return StoredUpload(target, digest, self.size, existed)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.temp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def store_stream(chunks: Iterable[bytes], folder: Path, limit: int) -> StoredUpload:
    """Store a file given as chunks of bytes (a file read piece by piece, a plain request body)."""
    with UploadWriter(folder, limit) as writer:
        for chunk in chunks:
            writer.write(chunk)
        return writer.finish()


async def store_multipart(body: AsyncIterable[bytes], content_type: str, content_length: str | None,
                          folder: Path, limit: int, field: str = "file") -> StoredUpload:
    """Store the file in multipart part `field` of a request body, as the body streams in.

    Nothing but that part's bytes reaches the disk; the part's file name is ignored. The whole
    body may be at most `limit` + MULTIPART_ALLOWANCE bytes, the file at most `limit`.
    Raises UploadRefused: not multipart, no such part, more than one, more than MAX_PARTS parts, empty,
    malformed, ended before its closing boundary; UploadTooLarge.
    """
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

    parser = MultipartParser(options[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_end": lambda: ended.append(True)})
    writer = await anyio.to_thread.run_sync(UploadWriter, folder, limit)
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
                await anyio.to_thread.run_sync(writer.write, data)  # hashing and disk off the event loop
        try:
            parser.finalize()
        except FormParserError as exc:
            raise UploadRefused(f"the request is not well-formed multipart data ({exc})") from None
        if not any(part["is_file"] for part in parts):
            raise UploadRefused(f"no file: send it in the multipart field {field!r}")
        if not ended:  # parser.finalize() does not check this: a short body would keep a truncated file
            raise UploadRefused("the request ended before its multipart data did (the file may be cut short): "
                                "send it again")
        return await anyio.to_thread.run_sync(writer.finish)
    except BaseException:
        writer.abort()
        raise
