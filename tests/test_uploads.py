"""Uploads: streamed under a size limit, named by content hash and sniffed type, never by the client's name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from reelforge.store.paths import ProductionPaths
from reelforge.studio.uploads import (
    MAX_PARTS,
    MULTIPART_ALLOWANCE,
    UploadRefused,
    UploadTooLarge,
    UploadWriter,
    check_declared_length,
    sniff_suffix,
    store_multipart,
    store_stream,
)

MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(64)
BOUNDARY = "reelforge-test-boundary"


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of (field name, file name or None, content) parts, and its Content-Type."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


async def chunked(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def store(body: bytes, content_type: str, folder: Path, limit: int, declared: str | None = None, chunk: int = 7):
    return anyio.run(store_multipart, chunked(body, chunk), content_type, declared, folder, limit)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_a_stream_is_kept_under_its_hash_with_a_suffix_from_its_content(tmp_path):
    content = MP4_HEAD + b"picture" * 100
    stored = store_stream([content[:10], content[10:]], tmp_path / "uploads", limit=10_000)
    digest = hashlib.sha256(content).hexdigest()
    assert stored.path == tmp_path / "uploads" / f"{digest}.mp4"
    assert stored.path.read_bytes() == content and stored.size == len(content) and not stored.existed
    again = store_stream([content], tmp_path / "uploads", limit=10_000)
    assert again.path == stored.path and again.existed
    assert files_under(tmp_path / "uploads") == {f"{digest}.mp4"}  # the same content twice is one file


@pytest.mark.parametrize("head, suffix", [
    (MP4_HEAD, ".mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", ".mov"),
    (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x23\x42\x86\x81\x01\x42\x82\x88matroska", ".mkv"),
    (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1f\x42\x86\x81\x01\x42\x82\x84webm", ".webm"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", ".avi"),
    (bytes([0x47]) + bytes(187) + bytes([0x47]) + bytes(10), ".ts"),
    (b"#!/bin/sh\nrm -rf /\n", ".bin"),
    (b"<html>", ".bin"),
])
def test_the_suffix_comes_from_the_content(head, suffix):
    assert sniff_suffix(head) == suffix


def test_past_the_limit_the_upload_is_refused_and_nothing_is_left(tmp_path):
    folder = tmp_path / "uploads"
    with pytest.raises(UploadTooLarge, match="larger than"):
        store_stream([b"x" * 600, b"x" * 600], folder, limit=1000)
    assert files_under(folder) == set()  # the partial file is gone
    assert store_stream([b"x" * 1000], folder, limit=1000).size == 1000  # exactly the limit is fine


def test_an_empty_upload_is_refused(tmp_path):
    with pytest.raises(UploadRefused, match="empty"):
        store_stream([b""], tmp_path / "uploads", limit=1000)
    assert files_under(tmp_path / "uploads") == set()


def test_a_declared_length_over_the_limit_is_refused_before_reading(tmp_path):
    check_declared_length(None, 10)
    check_declared_length("10", 10)
    with pytest.raises(UploadTooLarge):
        check_declared_length("11", 10)
    with pytest.raises(UploadRefused, match="not a number"):
        check_declared_length("ten", 10)

    async def never_read():
        raise AssertionError("the body was read although its declared length is too large")
        yield b""  # pragma: no cover

    _, content_type = multipart([("file", "a.mp4", MP4_HEAD)])
    with pytest.raises(UploadTooLarge):
        anyio.run(store_multipart, never_read(), content_type, str(1000 + MULTIPART_ALLOWANCE + 1),
                  tmp_path / "uploads", 1000)


def test_a_lying_content_length_does_not_get_past_the_count(tmp_path):
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD + b"x" * 5000)])
    with pytest.raises(UploadTooLarge):
        store(body, content_type, tmp_path / "uploads", limit=1000, declared="100")
    assert files_under(tmp_path / "uploads") == set()


def test_the_file_part_is_stored_by_hash_and_its_client_name_is_ignored(tmp_path):
    content = MP4_HEAD + bytes(range(256)) * 20  # crosses many 7-byte chunks, and holds the boundary's bytes
    body, content_type = multipart([("note", None, b"hello"), ("file", "../../etc/passwd", content)])
    folder = tmp_path / "production" / ".reelforge" / "uploads"
    stored = store(body, content_type, folder, limit=len(content))
    assert stored.path.read_bytes() == content
    assert files_under(tmp_path) == {f"production/.reelforge/uploads/{hashlib.sha256(content).hexdigest()}.mp4"}


@pytest.mark.parametrize("parts, message", [
    ([("note", None, b"hello")], "no file"),
    ([("file", "a.mp4", b"")], "empty"),
    ([("file", "a.mp4", MP4_HEAD), ("file", "b.mp4", MP4_HEAD)], "one file at a time"),
])
def test_bad_multipart_requests_are_refused_with_a_reason(tmp_path, parts, message):
    body, content_type = multipart(parts)
    with pytest.raises(UploadRefused, match=message) as refused:
        store(body, content_type, tmp_path / "uploads", limit=10_000)
    assert refused.value.status == 400
    assert files_under(tmp_path / "uploads") == set()


def test_a_body_that_is_not_multipart_is_refused(tmp_path):
    with pytest.raises(UploadRefused, match="multipart/form-data"):
        store(b'{"file": "x"}', "application/json", tmp_path / "uploads", limit=10_000)
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD)])
    with pytest.raises(UploadRefused, match="well-formed"):
        store(body.replace(b"\r\n\r\n", b"\r\n", 1), content_type, tmp_path / "uploads", limit=10_000)


@pytest.mark.parametrize("cut", [5, 60])
def test_a_body_that_ends_before_the_multipart_data_does_is_refused(tmp_path, cut):
    """A Content-Length smaller than the body, or a client gone mid-way: the file may be cut short, so none is kept."""
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD + b"x" * 500)])
    with pytest.raises(UploadRefused, match="ended before") as refused:
        store(body[:-cut], content_type, tmp_path / "uploads", limit=10_000)
    assert refused.value.status == 400
    assert files_under(tmp_path / "uploads") == set()


def test_a_request_of_many_parts_is_refused(tmp_path):
    """Every part costs memory to track however small; a browser sends one."""
    body, content_type = multipart([("note", None, b"")] * (MAX_PARTS + 1) + [("file", "a.mp4", MP4_HEAD)])
    with pytest.raises(UploadRefused, match="parts"):
        store(body, content_type, tmp_path / "uploads", limit=10_000, chunk=4096)
    assert files_under(tmp_path / "uploads") == set()
    body, content_type = multipart([("note", None, b"")] * (MAX_PARTS - 1) + [("file", "a.mp4", MP4_HEAD)])
    assert store(body, content_type, tmp_path / "uploads", limit=10_000, chunk=4096).size == len(MP4_HEAD)


def test_a_killed_upload_is_swept_but_one_in_progress_is_not(tmp_path):
    """Renders sweep temporary files; an upload still arriving (its writer open) keeps its file."""
    paths = ProductionPaths.for_spec(tmp_path / "production.json")
    folder = paths.uploads
    folder.mkdir(parents=True)
    stale = folder / ".incoming-killed.part"
    stale.write_bytes(b"half an upload")
    kept = folder / f"{'ab' * 32}.mp4"
    kept.write_bytes(MP4_HEAD)
    with UploadWriter(folder, limit=10_000) as writer:
        writer.write(MP4_HEAD)
        assert paths.remove_stale_temp_files(tmp_path / "renders") == 1
        assert writer.temp.is_file() and not stale.exists() and kept.is_file()
        stored = writer.finish()
    assert stored.path.read_bytes() == MP4_HEAD


def test_multipart_without_a_boundary_is_refused(tmp_path):
    body, _ = multipart([("file", "a.mp4", MP4_HEAD)])
    for content_type in ("multipart/form-data", 'multipart/form-data; boundary=""'):
        with pytest.raises(UploadRefused, match="multipart/form-data"):
            store(body, content_type, tmp_path / "uploads", limit=10_000)
    assert files_under(tmp_path) == set()


def test_a_body_of_unknown_length_is_counted_as_it_arrives(tmp_path):
    """A chunked request declares no length: past the limit it is refused all the same, and nothing is left."""
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD + b"x" * 5000)])
    with pytest.raises(UploadTooLarge):
        store(body, content_type, tmp_path / "uploads", limit=1000, declared=None, chunk=512)
    assert files_under(tmp_path / "uploads") == set()
