"""`verify`: prove a delivered file re-renders byte for byte from its recorded jobs.

Verification trusts nothing but the catalog's record of the render: each shot's
job is re-rendered from its recorded JSON (not from today's spec), without
reading or writing the frame store, and every frame hash is compared with the
recorded one. The store is checked too (a damaged stored frame is reported),
the segments are re-encoded and re-joined, and the result must equal the file
on disk. The environment recorded at render time is compared field by field, so
a mismatch comes with its likely cause.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.deliver import assemble, recorded_options
from reelforge.fingerprint import differences, environment_fingerprint
from reelforge.media.encode import SegmentEncoder, concat_segments
from reelforge.plan.engine import render_code_hash
from reelforge.plan.jobs import ShotJob
from reelforge.render import Engine, file_sha256
from reelforge.store.catalog import RenderRecord, RenderShot


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
    damaged_in_store: list[int] = field(default_factory=list)
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

    @property
    def ok(self) -> bool:
        """Every frame, segment and the file re-rendered to the recorded bytes."""
        signature_ok = self.credentials is None or self.credentials.ok
        return (all(s.ok for s in self.shots) and self.file_matches is not False
                and self.rebuilt_matches_record is not False and signature_ok)

    @property
    def store_ok(self) -> bool:
        """Every recorded frame is intact in the production's store."""
        return not any(s.damaged_in_store for s in self.shots)


class NothingToVerify(Exception):
    """No recorded render matches what the user asked to verify."""


def checkpoint_problem(job: ShotJob) -> str | None:
    """Why the job's model files cannot reproduce it here (missing or changed), or None."""
    if job.model is None:
        return None
    from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256
    from reelforge.backends.runtime import RuntimeUnavailable, resolve_runtime

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
        kept = sorted((root / ".reelforge" / "assets").glob(f"{sha}*")) or _moved_with_production(path, sha, root)
        if not kept:
            return job, f"asset file {path} (sha256 {sha[:12]}…) is gone and no copy is kept in .reelforge/assets"
        assets[sha] = str(kept[0])
    return job.model_copy(update={"assets": assets}), None


def _moved_with_production(path: str, sha: str, root: Path) -> list[Path]:
    """A file used in place (a LoRA under styles/loras/ or loras/) that moved with the production folder.

    The record holds its old absolute path; the same trailing folders under the new root, holding
    the same bytes, are that file. The longest match wins, and the content hash decides.
    """
    from reelforge.backends.checkpoints import cached_file_sha256

    parts = Path(path).parts
    for i in range(1, len(parts)):
        candidate = root.joinpath(*parts[i:])
        try:
            if candidate.is_file() and cached_file_sha256(candidate) == sha:
                return [candidate]
        except OSError:
            continue
    return []


def _check_shot(engine: Engine, shot: RenderShot, frame_range: tuple[int, int] | None,
                workdir: Path) -> tuple[ShotCheck, Path]:
    job = ShotJob.model_validate(engine.catalog.job(shot.job_key))
    job, missing_asset = relocate_assets(job, engine.paths.root)
    recorded = shot.frame_hashes
    start, stop = shot.first_frame, shot.first_frame + shot.frame_count
    if frame_range is not None:
        start, stop = max(start, frame_range[0]), min(stop, frame_range[1])
    check = ShotCheck(shot.shot_path, start, max(0, stop - start))
    check.checkpoint_problem = missing_asset or checkpoint_problem(job)
    if check.checkpoint_problem is not None:
        return check, None  # re-rendering with other weights would prove nothing
    segment = workdir / f"{shot.position:04d}.mp4"
    encoder = SegmentEncoder(segment, engine.settings)
    for index, digest, yuv in engine.produce_frames(job, list(range(start, stop)), keep=False):
        expected = recorded[index - shot.first_frame]
        if digest != expected:
            check.mismatches.append(FrameMismatch(index, expected, digest))
        if not engine.store.check(expected):  # non-destructive: verify leaves the store as it found it
            check.damaged_in_store.append(index)
        encoder.add_yuv(yuv)
        engine.progress(job, 1)
    encoder.close()
    if frame_range is None:
        check.segment_matches = file_sha256(segment) == shot.segment_sha256
    return check, segment


def verify_render(engine: Engine, record: RenderRecord, target: str, file: Path | None,
                  shot_paths: set[str] | None = None, frame_range: tuple[int, int] | None = None) -> VerifyReport:
    """Re-render the shots of a recorded render and compare every frame, segment and the file."""
    checks, segments = [], []
    engine_changed = False
    with tempfile.TemporaryDirectory(prefix="reelforge-verify-") as tmp:
        for shot in record.shots:
            if shot_paths is not None and shot.shot_path not in shot_paths:
                continue
            job_json = engine.catalog.job(shot.job_key)
            engine_changed |= job_json["engine"] != render_code_hash(job_json["backend"])
            check, segment = _check_shot(engine, shot, frame_range, Path(tmp))
            checks.append(check)
            segments.append(segment)
        whole = shot_paths is None and frame_range is None and None not in segments
        rebuilt_matches: bool | None = None  # None: not re-created (a partial verify, or damaged store)
        delivery = engine.catalog.delivery(record.id)
        store_intact = not any(c.damaged_in_store for c in checks)
        if whole and all(c.ok for c in checks) and (store_intact or delivery is None or not delivery.mark_id):
            rebuilt_matches = _rebuild_matches(engine, record, delivery, segments, Path(tmp))
        elif whole and not all(c.ok for c in checks):
            rebuilt_matches = False
    recorded_env = json.loads(record.environment_json)
    current_env = environment_fingerprint(engine.settings.threads)
    credentials = None
    if file is not None and delivery is not None and delivery.signed:
        recorded = json.loads(delivery.credentials_json or "{}")
        credentials = _check_credentials(engine, file, recorded.get("trust_anchor"))
    return VerifyReport(
        target=target, render_id=record.id, shots=checks,
        environment_differences=differences(recorded_env, current_env), engine_changed=engine_changed,
        file_matches=(file_sha256(file) == record.output_sha256) if file is not None else None,
        rebuilt_matches_record=rebuilt_matches, credentials=credentials,
        mark_id=delivery.mark_id if delivery is not None else None,
    )


def _rebuild_matches(engine: Engine, record: RenderRecord, delivery, segments: list[Path], workdir: Path) -> bool:
    """Re-create the delivery before signing — joined (or marked), then watermarked — and compare its hash.

    Renders made before deliveries were recorded compare the joined file with the file's hash.
    """
    if delivery is None:
        rebuilt = workdir / "rebuilt.mp4"
        if record.kind == "episode":
            concat_segments(segments, rebuilt, engine.settings.fps)
        else:
            rebuilt = segments[0]
        return file_sha256(rebuilt) == record.output_sha256
    from reelforge.localize import rebuild_localized

    localized = rebuild_localized(engine, record, segments, workdir)  # a language delivery: picture + its text
    if localized is not None:
        return file_sha256(localized) == delivery.unsigned_sha256
    options = recorded_options(delivery, engine.paths.root.resolve())
    frame_hashes = [digest for shot in record.shots for digest in shot.frame_hashes]
    rebuilt = assemble(workdir / "rebuilt.mp4", segments, frame_hashes, engine.store, engine.settings, options,
                       workdir)
    return file_sha256(rebuilt) == delivery.unsigned_sha256


def _check_credentials(engine: Engine, file: Path, recorded_anchor: str | None):
    """The delivered file's C2PA status against the anchor it was signed for (the production's, or a studio's)."""
    from reelforge.trust.credentials import verify_credentials
    from reelforge.trust.identity import (
        CredentialsError,
        default_identity_folder,
        load_anchor,
    )

    own = default_identity_folder(engine.paths.root) / "root.pem"
    anchor = Path(recorded_anchor) if recorded_anchor else own
    if not anchor.is_file() and own.is_file() and anchor.name == own.name and anchor.parent.name == own.parent.name:
        anchor = own  # the production's own identity, recorded where the production folder used to be
    try:
        return verify_credentials(file, load_anchor(anchor))
    except CredentialsError as exc:
        from reelforge.trust.credentials import VerifyResult

        return VerifyResult(path=file, ok=False, state="unverified", failures=[("anchor", str(exc))], summary={})
