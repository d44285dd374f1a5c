"""Uploads: checked as they stream in (video container, size, the folder's cap), held only for their request.

Refused uploads leave nothing in `.reelforge/uploads/`, whatever stopped them (a bad first byte, a size
limit, the cap, a full disk, a client gone); a traced one is removed once answered; a studio starting
sweeps what a killed one left.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import anyio
import av
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from studio_support import login, small_production, studio_app

from reelforge.store.paths import ProductionPaths
from reelforge.studio import uploads as uploads_module
from reelforge.studio.state import SESSION_COOKIE
from reelforge.studio.uploads import (
    MAX_PARTS,
    MULTIPART_ALLOWANCE,
    SNIFF_BYTES,
    NotAVideoUpload,
    Upload,
    UploadFolder,
    UploadRefused,
    UploadsFull,
    UploadTooLarge,
    check_declared_length,
    sniff_video,
    store_multipart,
    store_stream,
)

MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(64)
BOUNDARY = "reelforge-test-boundary"
CHUNK = 64 * 1024  # what a server hands the app at a time


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


def folder_of(tmp_path: Path, limit: int = 10_000, cap: int = 1 << 30) -> UploadFolder:
    return UploadFolder(tmp_path / "uploads", limit, cap)


def store(body: bytes, content_type: str, folder: UploadFolder, declared: str | None = None, chunk: int = 7):
    return anyio.run(store_multipart, chunked(body, chunk), content_type, declared, folder)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def tiny_video(path: Path, frames: int = 12) -> bytes:
    """A real 12-frame H.264 MP4 (64×64), made here: a suspect copy with no mark."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = np.full((64, 64, 3), index * 20, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path.read_bytes()


# --- the upload itself -------------------------------------------------------------------------------

def test_a_video_is_held_with_its_hash_and_removed_once_used(tmp_path):
    folder = folder_of(tmp_path)
    content = MP4_HEAD + bytes(range(256)) * 20  # crosses many 7-byte chunks, and holds the boundary's bytes
    body, content_type = multipart([("note", None, b"hello"), ("file", "../../etc/passwd", content)])
    with store(body, content_type, folder, chunk=7) as upload:
        assert upload.path.read_bytes() == content and upload.container == ".mp4"
        assert upload.sha256 == hashlib.sha256(content).hexdigest() and upload.size == len(content)
        assert upload.path.parent == folder.path and "passwd" not in upload.path.name  # never the client's name
        assert folder.held == len(content)
    assert files_under(tmp_path) == set() and folder.held == 0


@pytest.mark.parametrize("head, container", [
    (MP4_HEAD, ".mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", ".mov"),
    (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x23\x42\x86\x81\x01\x42\x82\x88matroska", ".mkv"),
    (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1f\x42\x86\x81\x01\x42\x82\x84webm", ".webm"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", ".avi"),
    (bytes([0x47]) + bytes(187) + bytes([0x47]) + bytes(10), ".ts"),
    (b"#!/bin/sh\nrm -rf /\n", None),
    (b"<html>", None),
    (b"\x89PNG\r\n\x1a\n", None),
])
def test_the_container_comes_from_the_content(head, container):
    assert sniff_video(head) == container


def test_a_non_video_is_refused_on_its_first_bytes_without_reading_the_rest(tmp_path):
    folder = folder_of(tmp_path, limit=8 << 20)
    body, content_type = multipart([("file", "holiday.mp4", b"PK\x03\x04" + os.urandom(3 << 20))])
    consumed = []

    async def counted():
        async for chunk in chunked(body, CHUNK):
            consumed.append(len(chunk))
            yield chunk

    with pytest.raises(NotAVideoUpload, match="not a video") as refused:
        anyio.run(store_multipart, counted(), content_type, None, folder)
    assert refused.value.status == 415
    assert sum(consumed) <= CHUNK < len(body)  # decided on the first chunk: the other 3 MB were never read
    assert files_under(folder.path) == set() and folder.held == 0


@pytest.mark.parametrize("where", ["another part first", "after the closing boundary"])
def test_bytes_that_are_not_the_file_are_not_read_to_the_limit(tmp_path, where):
    """Only the file may be large: a big other field is refused as it crosses 64 KiB, and nothing after the
    closing boundary is read."""
    folder = folder_of(tmp_path, limit=8 << 20)
    if where == "another part first":
        body, content_type = multipart([("other", None, os.urandom(3 << 20)), ("file", "a.mp4", MP4_HEAD)])
    else:
        body, content_type = multipart([("file", "a.mp4", MP4_HEAD)])
        body += os.urandom(3 << 20)
    consumed = []

    async def counted():
        async for chunk in chunked(body, CHUNK):
            consumed.append(len(chunk))
            yield chunk

    if where == "another part first":
        with pytest.raises(UploadRefused, match="other than the file"):
            anyio.run(store_multipart, counted(), content_type, None, folder)
        assert files_under(folder.path) == set() and folder.held == 0
    else:
        with anyio.run(store_multipart, counted(), content_type, None, folder) as upload:
            assert upload.path.read_bytes() == MP4_HEAD
    assert sum(consumed) <= 2 * CHUNK < len(body)


def test_past_the_limit_the_upload_is_refused_and_nothing_is_left(tmp_path):
    folder = folder_of(tmp_path, limit=1000)
    with pytest.raises(UploadTooLarge, match="larger than"):
        store_stream([MP4_HEAD, b"x" * 1000], folder)
    assert files_under(folder.path) == set() and folder.held == 0
    with store_stream([MP4_HEAD + b"x" * (1000 - len(MP4_HEAD))], folder) as upload:
        assert upload.size == 1000  # exactly the limit is fine


def test_an_empty_or_short_non_video_upload_is_refused(tmp_path):
    folder = folder_of(tmp_path)
    with pytest.raises(UploadRefused, match="empty"):
        store_stream([b""], folder)
    with pytest.raises(NotAVideoUpload):
        store_stream([b"hello"], folder)  # shorter than SNIFF_BYTES: checked when it ends
    assert files_under(folder.path) == set() and folder.held == 0


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
                  folder_of(tmp_path, limit=1000))


def test_a_lying_or_missing_content_length_does_not_get_past_the_count(tmp_path):
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD + b"x" * 5000)])
    for declared in ("100", None):
        with pytest.raises(UploadTooLarge):
            store(body, content_type, folder_of(tmp_path, limit=1000), declared=declared, chunk=512)
    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("parts, message", [
    ([("note", None, b"hello")], "no file"),
    ([("file", "a.mp4", b"")], "empty"),
    ([("file", "a.mp4", MP4_HEAD), ("file", "b.mp4", MP4_HEAD)], "one file at a time"),
])
def test_bad_multipart_requests_are_refused_with_a_reason(tmp_path, parts, message):
    body, content_type = multipart(parts)
    with pytest.raises(UploadRefused, match=message) as refused:
        store(body, content_type, folder_of(tmp_path))
    assert refused.value.status == 400
    assert files_under(tmp_path) == set()


def test_a_body_that_is_not_multipart_is_refused(tmp_path):
    with pytest.raises(UploadRefused, match="multipart/form-data"):
        store(b'{"file": "x"}', "application/json", folder_of(tmp_path))
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD)])
    with pytest.raises(UploadRefused, match="well-formed"):
        store(body.replace(b"\r\n\r\n", b"\r\n", 1), content_type, folder_of(tmp_path))
    for content_type in ("multipart/form-data", 'multipart/form-data; boundary=""'):
        with pytest.raises(UploadRefused, match="multipart/form-data"):
            store(body, content_type, folder_of(tmp_path))
    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("cut", [5, 60])
def test_a_body_that_ends_before_the_multipart_data_does_is_refused(tmp_path, cut):
    """A Content-Length smaller than the body, or a client gone mid-way: the file may be cut short, so none is kept."""
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD + b"x" * 500)])
    with pytest.raises(UploadRefused, match="ended before") as refused:
        store(body[:-cut], content_type, folder_of(tmp_path))
    assert refused.value.status == 400
    assert files_under(tmp_path) == set()


def test_a_client_gone_mid_upload_leaves_nothing(tmp_path):
    folder = folder_of(tmp_path, limit=1 << 20)
    body, content_type = multipart([("file", "a.mp4", MP4_HEAD + b"x" * 50_000)])

    async def gone():
        yield body[:20_000]
        raise ConnectionResetError("the client went away")  # what the server raises in the app's stream

    with pytest.raises(ConnectionResetError):
        anyio.run(store_multipart, gone(), content_type, None, folder)
    assert files_under(folder.path) == set() and folder.held == 0


def test_a_full_disk_is_a_507_and_leaves_nothing(tmp_path, monkeypatch):
    class FullDisk:
        """The temporary file's writer, on a disk with no space left."""

        def __init__(self, fd: int, mode: str) -> None:
            self.real = open(fd, mode)  # noqa: SIM115 - closed by Upload.remove
            self.closed = False

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            self.real.close()
            self.closed = True

    monkeypatch.setattr("reelforge.studio.uploads.os.fdopen", FullDisk)
    folder = folder_of(tmp_path)
    with pytest.raises(UploadsFull, match="no space left") as refused:
        store_stream([MP4_HEAD * 10], folder)
    assert refused.value.status == 507
    assert files_under(folder.path) == set() and folder.held == 0


def test_a_request_of_many_parts_is_refused(tmp_path):
    """Every part costs memory to track however small; a browser sends one."""
    body, content_type = multipart([("note", None, b"")] * (MAX_PARTS + 1) + [("file", "a.mp4", MP4_HEAD)])
    with pytest.raises(UploadRefused, match="parts"):
        store(body, content_type, folder_of(tmp_path), chunk=4096)
    assert files_under(tmp_path) == set()
    body, content_type = multipart([("note", None, b"")] * (MAX_PARTS - 1) + [("file", "a.mp4", MP4_HEAD)])
    with store(body, content_type, folder_of(tmp_path), chunk=4096) as upload:
        assert upload.size == len(MP4_HEAD)


# --- the folder's cap --------------------------------------------------------------------------------

def test_uploads_held_at_once_stay_under_the_cap(tmp_path):
    folder = folder_of(tmp_path, limit=3000, cap=5000)
    first = store_stream([MP4_HEAD + b"x" * (3000 - len(MP4_HEAD))], folder)
    with pytest.raises(UploadsFull, match="send the file again when one has finished") as refused:
        store_stream([MP4_HEAD, b"x" * 2500], folder)  # 3000 held + 2600 > 5000: refused as it crosses
    assert refused.value.status == 507
    assert files_under(folder.path) == {first.path.name} and folder.held == 3000
    first.remove()
    with store_stream([MP4_HEAD, b"x" * 2500], folder):  # room again once the first is answered
        assert folder.held == len(MP4_HEAD) + 2500
    assert files_under(folder.path) == set() and folder.held == 0


# --- what killed processes leave ---------------------------------------------------------------------

def test_a_killed_upload_is_swept_but_one_in_progress_is_not(tmp_path):
    """Renders and a starting studio sweep stale uploads; one still held (its file locked) stays."""
    paths = ProductionPaths.for_spec(tmp_path / "production.json")
    paths.uploads.mkdir(parents=True)
    stale = paths.uploads / ".incoming-killed.part"
    stale.write_bytes(b"half an upload")
    legacy = paths.uploads / f"{'ab' * 32}.bin"  # what a studio before issue 16 kept
    legacy.write_bytes(b"an old upload")
    unrelated = paths.uploads / "README.txt"
    unrelated.write_text("not an upload")
    with Upload(UploadFolder(paths.uploads)) as upload:
        upload.write(MP4_HEAD)
        assert paths.remove_stale_temp_files(tmp_path / "renders") == 2
        assert upload.path.is_file() and not stale.exists() and not legacy.exists() and unrelated.exists()
        assert upload.finish().path.read_bytes() == MP4_HEAD
    assert not upload.path.exists()


def test_a_sweep_never_removes_an_upload_before_it_is_locked(tmp_path, monkeypatch):
    """A render or a studio starting sweeps unlocked uploads: one being created must not be taken for one."""
    paths = ProductionPaths.for_spec(tmp_path / "production.json")
    paths.uploads.mkdir(parents=True)
    real_flock = uploads_module.fcntl.flock

    def sweep_first(fd, operation):  # the sweep lands between the file's creation and its lock
        paths.remove_stale_uploads()
        return real_flock(fd, operation)

    monkeypatch.setattr(uploads_module.fcntl, "flock", sweep_first)
    with Upload(UploadFolder(paths.uploads)) as upload:
        monkeypatch.setattr(uploads_module.fcntl, "flock", real_flock)
        upload.write(MP4_HEAD)
        assert upload.finish().path.read_bytes() == MP4_HEAD


# --- through the studio ------------------------------------------------------------------------------

def upload_names(spec: Path) -> set[str]:
    return files_under(ProductionPaths.for_spec(spec).uploads)


def trace(browser, content: bytes):
    return browser.post("/trace", files={"file": ("suspect.mp4", content, "video/mp4")})


@pytest.fixture
def spec(tmp_path):
    return small_production(tmp_path / "show")


def test_a_small_video_is_traced_and_nothing_is_left(spec, tmp_path):
    app, state = studio_app(spec)
    with TestClient(app) as client:
        result = trace(login(client, state, "ana"), tiny_video(tmp_path / "suspect.mp4"))
    assert result.status_code == 200, result.text
    assert 'data-outcome="no-mark"' in result.text  # decoded to the end: a real video, just not ours
    assert upload_names(spec) == set() and state.uploads.held == 0


def test_a_file_with_a_video_head_that_does_not_decode_is_refused_and_removed(spec):
    app, state = studio_app(spec)
    with TestClient(app) as client:
        result = trace(login(client, state, "ana"), MP4_HEAD + os.urandom(SNIFF_BYTES * 4))
    assert result.status_code == 415 and "not a video this decoder can read" in result.text
    assert "Traceback" not in result.text
    assert upload_names(spec) == set() and state.uploads.held == 0


def test_an_upload_over_the_folders_cap_is_a_507_and_nothing_is_left(spec):
    app, state = studio_app(spec, max_upload_bytes=100_000, max_uploads_folder_bytes=10_000)
    with TestClient(app) as client:
        result = trace(login(client, state, "ana"), MP4_HEAD + bytes(20_000))
    assert result.status_code == 507 and "the studio allows at once" in result.text
    assert upload_names(spec) == set() and state.uploads.held == 0


async def post_streamed(app, state, body_chunks, content_type: str) -> tuple[httpx.Response, list[int]]:
    """POST /trace with a body sent chunk by chunk, as a server hands it to the app; and the chunks it read."""
    consumed: list[int] = []

    async def counted():
        for chunk in body_chunks:
            consumed.append(len(chunk))
            yield chunk

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = state.logins.issue_token("ana")
        assert (await client.get("/login", params={"token": token})).status_code == 200
        csrf = state.logins.session(client.cookies.get(SESSION_COOKIE)).csrf
        response = await client.post("/trace", content=counted(),
                                     headers={"content-type": content_type, "x-csrf-token": csrf})
    return response, consumed


def test_a_large_non_video_upload_is_refused_before_the_studio_reads_it(spec):
    app, state = studio_app(spec)
    body, content_type = multipart([("file", "episode.mp4", b"%PDF-1.7\n" + os.urandom(3 << 20))])
    chunks = [body[start:start + CHUNK] for start in range(0, len(body), CHUNK)]
    response, consumed = anyio.run(post_streamed, app, state, chunks, content_type)
    assert response.status_code == 415 and "not a video" in response.text
    assert len(consumed) == 1 < len(chunks)  # answered after the first 64 KiB of 3 MB
    assert upload_names(spec) == set() and state.uploads.held == 0


def test_an_oversize_upload_is_a_413_as_it_crosses_the_limit(spec):
    app, state = studio_app(spec, max_upload_bytes=1 << 20)
    body, content_type = multipart([("file", "episode.mp4", MP4_HEAD + bytes(3 << 20))])
    chunks = [body[start:start + CHUNK] for start in range(0, len(body), CHUNK)]
    response, consumed = anyio.run(post_streamed, app, state, chunks, content_type)  # no Content-Length
    assert response.status_code == 413 and "larger than the 1 MiB" in response.text
    assert sum(consumed) <= (1 << 20) + MULTIPART_ALLOWANCE + CHUNK < len(body)  # stopped reading at the limit
    assert upload_names(spec) == set() and state.uploads.held == 0


def test_a_starting_studio_sweeps_what_a_killed_one_left(spec):
    uploads = ProductionPaths.for_spec(spec).uploads
    uploads.mkdir(parents=True)
    (uploads / ".incoming-k1ll3d.part").write_bytes(MP4_HEAD + b"half an upload")
    (uploads / f"{'cd' * 32}.mp4").write_bytes(MP4_HEAD)  # a copy kept by a studio before issue 16
    app, state = studio_app(spec)
    assert upload_names(spec) != set()  # made, not started
    with TestClient(app):
        assert upload_names(spec) == set()


def test_a_browser_gone_mid_upload_leaves_nothing_and_no_error(spec):
    app, state = studio_app(spec)
    session_id, session = state.logins.redeem(state.logins.issue_token("ana"))
    body, content_type = multipart([("file", "episode.mp4", MP4_HEAD + bytes(200_000))])
    messages = iter([{"type": "http.request", "body": body[:100_000], "more_body": True}, {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/trace", "raw_path": b"/trace", "query_string": b"", "root_path": "",
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"testserver"), (b"content-type", content_type.encode()),
                         (b"cookie", f"{SESSION_COOKIE}={session_id}".encode()),
                         (b"x-csrf-token", session.csrf.encode())]}
    anyio.run(app, scope, receive, send)  # no exception: a disconnect is not a server error
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert upload_names(spec) == set() and state.uploads.held == 0
