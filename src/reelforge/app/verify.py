"""`verify`: prove a delivered file re-renders byte for byte from its recorded jobs.

Verification trusts nothing but the catalog's record of the render: each shot's
job is re-rendered from its recorded JSON (not from today's spec), every frame
anew (never read from the frame store, and nothing written to it), and every
frame hash is compared with the recorded one. The stored copies are checked too
(a damaged one is reported, never removed; one `reelforge store gc` removed, or that
was never kept, is only noted), the segments are re-encoded, and the unsigned
delivery is re-created (joined, or re-marked from the re-rendered frames, then
watermarked) and compared with its recorded hash, in the format, bit depth, chroma, size and container the
render recorded (a ProRes MOV master, a vertical HEVC cut: `recorded_encode_settings`); the delivered
file's own hash and its signature are checked on their own. The environment
recorded at render time is compared field by field, so a mismatch comes with its
likely cause.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.app.checked_records import render_audit
from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256
from reelforge.backends.runtime import RuntimeUnavailable, resolve_runtime
from reelforge.deliver.assemble import assemble
from reelforge.deliver.localize import EpisodeText, localized_file
from reelforge.deliver.options import recorded_options
from reelforge.engine.environment import differences, environment_fingerprint
from reelforge.engine.record import recorded_encode_settings
from reelforge.engine.shot import Backends, ProgressFn, produce_frames
from reelforge.media.encode import EncodeSettings, SegmentEncoder, concat_segments
from reelforge.plan.code_hash import render_code_hash
from reelforge.plan.jobs import ShotJob
from reelforge.store.assets import kept_copies
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.hashing import cached_file_sha256, file_sha256
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import (
    DeliveryRecord,
    LocalizedDelivery,
    RenderRecord,
    RenderShot,
)
from reelforge.trust.credentials import VerifyResult, verify_credentials
from reelforge.trust.identity import ROOT_CERT, CredentialsError, load_anchor


@dataclass
class FrameMismatch:
    index: int
    recorded: str
    rendered: str


@dataclass
class ShotCheck:
    shot_path: str
    first_frame: int
    frames: int
    mismatches: list[FrameMismatch] = field(default_factory=list)
    damaged_in_store: list[int] = field(default_factory=list)  # stored copy present but not what was written
    absent_from_store: int = 0  # frames the store no longer holds (removed by `store gc`): not damage
    segment_matches: bool = True
    checkpoint_problem: str | None = None  # the model's files are gone or no longer hash as recorded

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.segment_matches and self.checkpoint_problem is None


@dataclass
class VerifyReport:
    target: str
    render_id: int
    shots: list[ShotCheck]
    environment_differences: list[tuple[str, object, object]]
    engine_changed: bool
    file_matches: bool | None  # None when verifying a shot rather than a file
    rebuilt_matches_record: bool | None  # None: the delivery was not re-created (partial verify)
    credentials: object | None = None  # trust.credentials.VerifyResult for a signed file
    mark_id: str | None = None
    tampered: str | None = None  # a row of the render disagrees with its change-log entry (nothing re-rendered)
    records_note: str | None = None  # why the rows could not be checked against the log (an older entry)

    @property
    def ok(self) -> bool:
        """Every frame, segment and the file re-rendered to the recorded bytes."""
        signature_ok = self.credentials is None or self.credentials.ok
        return (self.tampered is None and all(s.ok for s in self.shots) and self.file_matches is not False
                and self.rebuilt_matches_record is not False and signature_ok)

    @property
    def store_ok(self) -> bool:
        """No stored copy of a recorded frame is damaged (frames `store gc` removed are not damage)."""
        return not any(s.damaged_in_store for s in self.shots)


def checkpoint_problem(job: ShotJob) -> str | None:
    """Why the job's model files cannot reproduce it here (missing or changed), or None."""
    if job.model is None:
        return None
    try:
        resolve_runtime(job.model.device.split(":")[0], job.model.threads)
    except RuntimeUnavailable:
        return f"rendered on {job.model.device}, which this machine does not have: verify it where it was rendered"

    recorded = {"checkpoint": job.model.checkpoint_sha256, "config": job.model.config_sha256,
                "motion_adapter": job.model.motion_adapter_sha256, "controlnet": job.model.controlnet_sha256}
    for name, expected in recorded.items():
        path = getattr(job.files, name)
        if path is None:
            continue
        try:
            found = checkpoint_sha256(path)
        except CheckpointError as exc:
            return f"{name} {exc}"
        if found != expected:
            return f"{name} {path} has changed since the render (sha256 {found[:12]}…, recorded {expected[:12]}…)"
    return None


def relocate_assets(job: ShotJob, root: Path) -> tuple[ShotJob, str | None]:
    """The job with each asset file (LUT, reference image, LoRA) found on this machine, or why one is not.

    A job records asset paths as they were at render time; the content hashes are what is keyed.
    A copy kept in the production's `.reelforge/assets/<sha256>.*` stands in for a moved file, so a
    production folder that moved still verifies.
    """
    assets = dict(job.assets)
    for sha, path in job.assets.items():
        if Path(path).is_file():
            continue
        kept = kept_copies(sha, root) or _moved_with_production(path, sha, root)
        if not kept:
            return job, f"asset file {path} (sha256 {sha[:12]}…) is gone and no copy is kept in .reelforge/assets"
        assets[sha] = str(kept[0])
    return job.model_copy(update={"assets": assets}), None


def _moved_with_production(path: str, sha: str, root: Path) -> list[Path]:
    """A file used in place (a LoRA under styles/loras/ or loras/) that moved with the production folder.

    The record holds its old absolute path; the same trailing folders under the new root, holding
    the same bytes, are that file. The longest match wins, and the content hash decides.
    """
    parts = Path(path).parts
    for i in range(1, len(parts)):
        candidate = root.joinpath(*parts[i:])
        try:
            if candidate.is_file() and cached_file_sha256(candidate) == sha:
                return [candidate]
        except OSError:
            continue
    return []


@dataclass
class _Replay:
    """What re-rendering a recorded render needs: the production, its catalog and store, the recorded encode
    settings, this process's backends, and where to report progress."""

    paths: ProductionPaths
    catalog: Catalog
    frames: FrameStore
    settings: EncodeSettings
    backends: Backends
    progress: ProgressFn


def recorded_settings(record: RenderRecord) -> EncodeSettings:
    """The encode settings a render recorded (what its segments must be encoded with again)."""
    return recorded_encode_settings(record.encode_json)


def verify_render(paths: ProductionPaths, record: RenderRecord, target: str, file: Path | None,
                  shot_paths: set[str] | None = None, frame_range: tuple[int, int] | None = None,
                  progress: ProgressFn | None = None) -> VerifyReport:
    """Re-render the shots of a recorded render and compare every frame, segment and the file.

    The render's rows are checked against its change-log entry first: a row edited since (an output
    hash, a frame hash, a job) answers TAMPERED, never a verdict computed from it.
    """
    audit = render_audit(paths, record.id)
    if not audit.ok:
        return VerifyReport(target=target, render_id=record.id, shots=[], environment_differences=[],
                            engine_changed=False, file_matches=None, rebuilt_matches_record=None,
                            tampered=audit.problems[0])
    with Catalog(paths.catalog) as catalog:
        replay = _Replay(paths, catalog, FrameStore(paths.frames), recorded_settings(record), Backends(),
                         progress or (lambda job, n: None))
        report = _verify(replay, record, target, file, shot_paths, frame_range)
    report.records_note = audit.note
    return report


def _verify(replay: _Replay, record: RenderRecord, target: str, file: Path | None, shot_paths: set[str] | None,
            frame_range: tuple[int, int] | None) -> VerifyReport:
    checks, segments = [], []
    engine_changed = False
    whole = shot_paths is None and frame_range is None
    delivery = replay.catalog.delivery(record.id)
    with tempfile.TemporaryDirectory(prefix="reelforge-verify-") as tmp:
        # A marked delivery is re-created from the re-rendered frames, kept apart for it: proved against the
        # recorded hashes, they stand in for the production's store, which may no longer hold them (`store gc`).
        proved = FrameStore(Path(tmp) / "proved") if whole and _remarked(replay, record, delivery) else None
        for shot in record.shots:
            if shot_paths is not None and shot.shot_path not in shot_paths:
                continue
            job_json = replay.catalog.job(shot.job_key)
            engine_changed |= job_json["engine"] != render_code_hash(job_json["backend"])
            check, segment = _check_shot(replay, shot, frame_range, Path(tmp), proved)
            checks.append(check)
            segments.append(segment)
        whole = whole and None not in segments
        rebuilt_matches: bool | None = None  # None: not re-created (a partial verify)
        if whole and all(c.ok for c in checks):
            rebuilt_matches = _rebuild_matches(replay, record, delivery, segments, Path(tmp), proved)
        elif whole and not all(c.ok for c in checks):
            rebuilt_matches = False
    recorded_env = json.loads(record.environment_json)
    current_env = environment_fingerprint(replay.settings.threads)
    credentials = None
    if file is not None and delivery is not None and delivery.signed:
        recorded = json.loads(delivery.credentials_json or "{}")
        credentials = _check_credentials(replay.paths, file, recorded.get("trust_anchor"))
    return VerifyReport(
        target=target, render_id=record.id, shots=checks,
        environment_differences=differences(recorded_env, current_env), engine_changed=engine_changed,
        file_matches=(file_sha256(file) == record.output_sha256) if file is not None else None,
        rebuilt_matches_record=rebuilt_matches, credentials=credentials,
        mark_id=delivery.mark_id if delivery is not None else None,
    )


def _remarked(replay: _Replay, record: RenderRecord, delivery: DeliveryRecord | None) -> bool:
    """Whether re-creating the delivery embeds an invisible mark in its frames (its own, or its picture's)."""
    if delivery is not None and delivery.mark_id:
        return True
    with replay.catalog.session() as session:
        localized = session.get(LocalizedDelivery, record.id)
        picture_id = localized.picture_render_id if localized is not None else None
    picture = replay.catalog.delivery(picture_id) if picture_id is not None else None
    return picture is not None and bool(picture.mark_id)


def _check_shot(replay: _Replay, shot: RenderShot, frame_range: tuple[int, int] | None,
                workdir: Path, proved: FrameStore | None) -> tuple[ShotCheck, Path | None]:
    job = ShotJob.model_validate(replay.catalog.job(shot.job_key))
    job, missing_asset = relocate_assets(job, replay.paths.root)
    recorded = shot.frame_hashes
    start, stop = shot.first_frame, shot.first_frame + shot.frame_count
    if frame_range is not None:
        start, stop = max(start, frame_range[0]), min(stop, frame_range[1])
    check = ShotCheck(shot.shot_path, start, max(0, stop - start))
    check.checkpoint_problem = missing_asset or checkpoint_problem(job)
    if check.checkpoint_problem is not None:
        return check, None  # re-rendering with other weights would prove nothing
    segment = workdir / f"{shot.position:04d}{replay.settings.suffix}"
    encoder = SegmentEncoder(segment, replay.settings)
    for index, digest, yuv in produce_frames(job, list(range(start, stop)), replay.backends, proved,  # anew
                                             settings=replay.settings):
        expected = recorded[index - shot.first_frame]
        if digest != expected:
            check.mismatches.append(FrameMismatch(index, expected, digest))
        if not replay.frames.has(expected):  # removed by `store gc` (or never kept): the next render makes it
            check.absent_from_store += 1
        elif not replay.frames.check(expected):  # non-destructive: verify leaves the store as it found it
            check.damaged_in_store.append(index)
        encoder.add_yuv(yuv)
        replay.progress(job, 1)
    encoder.close()
    if frame_range is None:
        check.segment_matches = file_sha256(segment) == shot.segment_sha256
    return check, segment


def _rebuild_matches(replay: _Replay, record: RenderRecord, delivery: DeliveryRecord | None, segments: list[Path],
                     workdir: Path, proved: FrameStore | None) -> bool:
    """Re-create the delivery before signing — joined (or marked), then watermarked — and compare its hash.

    Renders made before deliveries were recorded compare the joined file with the file's hash.
    """
    if delivery is None:
        rebuilt = workdir / f"rebuilt{replay.settings.suffix}"
        if record.kind == "episode":
            concat_segments(segments, rebuilt, replay.settings.fps)
        else:
            rebuilt = segments[0]
        return file_sha256(rebuilt) == record.output_sha256
    localized = _rebuild_localized(replay, record, segments, workdir, proved)  # a language delivery: picture + text
    if localized is not None:
        return file_sha256(localized) == delivery.unsigned_sha256
    return file_sha256(_rebuild_picture(replay, record, delivery, segments, workdir,
                                        f"rebuilt{replay.settings.suffix}", proved)) == \
        delivery.unsigned_sha256


def _rebuild_picture(replay: _Replay, record: RenderRecord, delivery: DeliveryRecord | None, segments: list[Path],
                     workdir: Path, name: str, proved: FrameStore | None) -> Path:
    """The unsigned picture delivery as it was assembled: joined (or marked from the re-rendered frames, `proved`),
    then watermarked."""
    mark_key_id = replay.catalog.mark_key_id(delivery.render_id) if delivery is not None else None
    options = recorded_options(delivery, replay.paths.root.resolve(), mark_key_id)
    frame_hashes = [digest for shot in record.shots for digest in shot.frame_hashes]
    return assemble(workdir / name, segments, frame_hashes, proved, replay.settings, options, workdir)


def _rebuild_localized(replay: _Replay, record: RenderRecord, segments: list[Path], workdir: Path,
                       proved: FrameStore | None) -> Path | None:
    """The unsigned language delivery re-created from the recorded picture and text (None: not one).

    The picture is re-created exactly as its own delivery was, then the recorded text is muxed again.
    """
    with replay.catalog.session() as session:
        row = session.get(LocalizedDelivery, record.id)
        if row is None:
            return None
        picture_id, burned = row.picture_render_id, row.burned_titles
        text = EpisodeText.from_record(json.loads(row.text_json))
    suffix = replay.settings.suffix  # a language delivery is in its picture's container
    picture = _rebuild_picture(replay, record, replay.catalog.delivery(picture_id), segments, workdir,
                               f"picture{suffix}", proved)
    rebuilt = workdir / f"rebuilt.{text.language}{suffix}"
    localized_file(picture, rebuilt, text, burned, replay.settings, workdir, replay.paths.root)  # its kept font
    return rebuilt


def _check_credentials(paths: ProductionPaths, file: Path, recorded_anchor: str | None) -> VerifyResult:
    """The delivered file's C2PA status against the anchor it was signed for (the production's, or a studio's)."""
    own = paths.identity / ROOT_CERT
    anchor = Path(recorded_anchor) if recorded_anchor else own
    if not anchor.is_file() and own.is_file() and anchor.name == own.name and anchor.parent.name == own.parent.name:
        anchor = own  # the production's own identity, recorded where the production folder used to be
    try:
        return verify_credentials(file, load_anchor(anchor))
    except CredentialsError as exc:
        return VerifyResult(path=file, ok=False, state="unverified", failures=[("anchor", str(exc))], summary={})
