"""The render pipeline: shot jobs → stored frames and segments → delivered, signed and recorded files.

`RenderPipeline` is what a render request runs, written as numbered steps, the way a diffusers
pipeline's `__call__` reads. Each shot is a pure unit of work (engine/shot.py); delivery
(deliver/: assembly, invisible mark, watermark, language tracks, signing) and recording
(engine/record.py: catalog rows and change-log entries) are separate steps after it, always in
that order, and a file appears at its output path only once it is recorded.

One pipeline delivers one delivery of the spec (its encode settings); `for_delivery` gives the same
pipeline (store, catalog, runner, loaded models) for a named delivery, so a 9:16 cut or a ProRes master
renders after the main delivery with every frame the two share taken from the store.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reelforge import __version__
from reelforge.deliver.assemble import assemble
from reelforge.deliver.contact_sheet import deliver_contact_sheet
from reelforge.deliver.localize import LanguageFile, Localization
from reelforge.deliver.options import DeliveryOptions
from reelforge.deliver.sign import sign
from reelforge.energy.meters import EnergyMeter, EnergyReading
from reelforge.engine.environment import environment_fingerprint
from reelforge.engine.record import delivery_record, record_render
from reelforge.engine.shot import (
    Backends,
    LocalShots,
    ProgressFn,
    ShotOutput,
    ShotRunner,
    encode_record,
    keep_whole_range,
)
from reelforge.media.encode import EncodeSettings
from reelforge.plan.code_hash import ENGINE_VERSION, encode_code_hash
from reelforge.plan.jobs import EpisodePlan, ShotJob
from reelforge.records.actors import current_actor
from reelforge.store.atomic import atomic_path, write_text
from reelforge.store.catalog import MAIN, Catalog, utc_now
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.trust.mark import new_mark_id


@dataclass
class RenderResult:
    """One delivered file (an episode, a range clip or a language delivery) and how it was made."""

    kind: str  # "episode" | "shot"
    episode_id: str
    output: Path
    sha256: str
    seconds: float
    shots: list[ShotOutput] = field(default_factory=list)
    render_id: int | None = None
    energy: EnergyReading | None = None
    unsigned_sha256: str = ""  # the delivery before signing: what re-renders byte for byte
    environment: dict | None = None
    credentials: dict | None = None  # summary of the C2PA manifest, when signed
    languages: list[RenderResult] = field(default_factory=list)  # language deliveries of this picture
    delivery: str = MAIN  # the spec's delivery it is: "main", or a named one (`deliveries`)
    encode: EncodeSettings | None = None  # what it was encoded as (format, bit depth, chroma, size)

    @property
    def frames(self) -> int:
        return sum(len(s.frame_hashes) for s in self.shots)

    @property
    def shots_reused(self) -> int:
        return sum(1 for s in self.shots if s.reused)


def render_device(jobs: Iterable[ShotJob]) -> str:
    """The device a render's energy is metered on: the model's device, or the CPU for previz."""
    for job in jobs:
        if job.model is not None:
            return job.model.device
    return "cpu"


def frame_manifest_sha256(shots: Sequence[tuple[str, int, list[str]]]) -> str:
    """One hash over every delivered frame, in order: (shot path, first frame, frame hashes) per shot."""
    payload = json.dumps([[path, first, hashes] for path, first, hashes in shots], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class RenderPipeline:
    """Renders jobs of one production into its store, delivers them to its output folder and records them."""

    def __init__(self, paths: ProductionPaths, settings: EncodeSettings, progress: ProgressFn | None = None,
                 delivery: DeliveryOptions | None = None, commit_id: int | None = None,
                 runner: ShotRunner | None = None):
        self.paths = paths
        self.settings = settings
        self.delivery = delivery or DeliveryOptions(actor=current_actor())  # library default: unsigned, unmarked
        self.progress = progress or (lambda job, n: None)
        # The commit the spec was recorded as (records.versions; a render request commits first):
        # each render record then points at the exact entity versions it was made from.
        self.commit_id = commit_id
        self.store = ShotStore.of(paths)
        self.catalog = Catalog(paths.catalog)
        self.backends = Backends()
        self.runner = runner or LocalShots()  # or a farm (farm/runner.py): the same bytes either way
        self.delivery_name: str | None = None  # the named delivery this pipeline delivers; None: the main one

    def for_delivery(self, settings: EncodeSettings, name: str | None,
                     options: DeliveryOptions | None = None) -> RenderPipeline:
        """This pipeline delivering the named delivery `name` (None: the main one) with its encode settings
        (and its own delivery options: a named delivery's own visible watermark, or none).

        It shares this one's store, catalog, runner and loaded models (close this one, not it): a shot
        whose job the two deliveries share is taken from the store and only encoded again.
        """
        view = copy.copy(self)
        view.settings, view.delivery_name = settings, name
        view.delivery = options or self.delivery
        return view

    def close(self) -> None:
        """Close the catalog's connections and the runner (the Open Studio makes a pipeline for every render)."""
        self.runner.close()
        self.catalog.close()

    def __enter__(self) -> RenderPipeline:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def render_episode(self, episode: EpisodePlan, output: Path, localization: Localization | None = None
                       ) -> RenderResult:
        """The episode's picture delivery and, with a Localization, one delivery per language."""
        started, started_at = time.perf_counter(), utc_now()
        meter = EnergyMeter(render_device(episode.jobs))
        meter.start()
        # 1. Render every shot, each a pure unit of work: from the store where it is intact, else anew.
        shots = self.runner.render_shots(episode.jobs, self.store, self.settings, self.backends, self.progress)
        # 2.–6. Deliver the episode and record it.
        return self._deliver("episode", episode.episode_id, shots, output, started, started_at, meter, localization)

    def render_shot(self, job: ShotJob, output: Path) -> RenderResult:
        """One whole shot (a take), from the store where it is intact, delivered as a clip of its own."""
        started, started_at = time.perf_counter(), utc_now()
        meter = EnergyMeter(render_device([job]))
        meter.start()
        # 1. Render the shot, a pure unit of work: from the store where it is intact, else anew.
        shots = self.runner.render_shots([job], self.store, self.settings, self.backends, self.progress)
        # 2.–6. Deliver the clip and record it.
        return self._deliver("shot", job.episode_id, shots, output, started, started_at, meter)

    def render_range(self, job: ShotJob, start: int, stop: int, output: Path) -> RenderResult:
        """Frames [start, stop) of one shot rendered afresh and delivered as a clip."""
        started, started_at = time.perf_counter(), utc_now()
        meter = EnergyMeter(render_device([job]))
        meter.start()
        # 1. Render the frames anew (a pure unit of work) into a clip.
        shot = self.runner.render_range(job, (start, stop), self.store, self.settings, self.backends,
                                        self.progress)
        try:
            # 2. A range that is the whole shot is the shot's render: kept in the store (manifest, segment),
            #    so the episodes holding the shot are re-assembled from it by stream copy.
            keep_whole_range(shot, self.store, self.settings)
            # 3. Deliver the clip and record it (a delivery's own steps, as for an episode).
            return self._deliver("shot", job.episode_id, [shot], output, started, started_at, meter)
        finally:
            shot.segment.unlink(missing_ok=True)

    def deliver_contact_sheet(self, results: list[RenderResult], output: Path,
                              marks: Mapping[str, Mapping[str, tuple[float, float]]] | None = None) -> Path:
        """One labelled still per rendered shot (its middle frame, from the store) on a signed PNG grid;
        `marks` (location id → named spots) are drawn on each shot's plan."""
        return deliver_contact_sheet([shot for result in results for shot in result.shots], self.store,
                                     self.delivery, output, marks)

    def _deliver(self, kind: str, episode_id: str, shots: list[ShotOutput], output: Path, started: float,
                 started_at: str, meter: EnergyMeter, localization: Localization | None = None) -> RenderResult:
        """Steps 2–6 of a render: assemble, localize, sign, record; then each language delivery."""
        options = self.delivery
        if options.mark:  # each delivery its own id: a leaked copy names exactly one render
            options = dataclasses.replace(options, mark_id=new_mark_id())
        output.parent.mkdir(parents=True, exist_ok=True)
        frame_hashes = [digest for shot in shots for digest in shot.frame_hashes]
        languages: list[LanguageFile] = []
        try:
            with atomic_path(output) as tmp:
                unsigned = self.store.segments.incoming(f"delivery-{shots[0].job.key}{self.settings.suffix}")
                try:
                    # 2. Assemble the unsigned delivery: the segments joined by stream copy (or every frame
                    #    re-encoded with the delivery's invisible mark), then the visible watermark.
                    assemble(unsigned, [s.segment for s in shots], frame_hashes, self.store.frames, self.settings,
                             options, self.store.segments.folder)
                    result = RenderResult(kind, episode_id, output, "", time.perf_counter() - started, shots,
                                          energy=meter.stop(), unsigned_sha256=file_sha256(unsigned),
                                          environment=environment_fingerprint(self.settings.threads),
                                          delivery=self.delivery_name or MAIN, encode=self.settings)
                    # 3. Mux each language's text onto the unsigned picture: their files copy its packets,
                    #    so this happens before the picture is signed.
                    if localization is not None:
                        languages = localization.prepare(unsigned, self.settings, self.store.segments.folder)
                    # 4. Sign the picture, the last step to touch its bytes.
                    result.credentials = sign(unsigned, tmp, options, self.assertion(result, options, started_at),
                                              output.name)
                finally:
                    unsigned.unlink(missing_ok=True)
                result.sha256 = file_sha256(tmp)
                result.seconds = time.perf_counter() - started
                # 5. Record it (catalog rows, change-log entries, a signed checkpoint) before the file
                #    appears at `output`: there is never an unrecorded delivery.
                result.render_id = record_render(self.catalog, result, options, started_at, self.settings,
                                                 self.paths.root, self.commit_id, delivery_name=self.delivery_name)
            # 6. Sign, write and record each language delivery beside the picture.
            result.languages = [self._deliver_language(result, language, options, started_at)
                                for language in languages]
        finally:
            for language in languages:
                language.unsigned.unlink(missing_ok=True)
        return result

    def _deliver_language(self, picture: RenderResult, language: LanguageFile, options: DeliveryOptions,
                          started_at: str) -> RenderResult:
        """A language delivery: the picture's packets with its text, signed and recorded like any delivery."""
        started = time.perf_counter()
        output = language.output(picture.output)
        # the same shots and frames as the picture, none rendered for this delivery
        shots = [dataclasses.replace(shot, reused=True, rendered_frames=0) for shot in picture.shots]
        result = RenderResult(picture.kind, picture.episode_id, output, "", 0.0, shots,
                              unsigned_sha256=file_sha256(language.unsigned), environment=picture.environment,
                              delivery=picture.delivery, encode=picture.encode)
        assertion = {**self.assertion(result, options, started_at),
                     "localization": language.assertion(picture.render_id, picture.unsigned_sha256)}
        with atomic_path(output) as tmp:
            result.credentials = sign(language.unsigned, tmp, options, assertion, output.name)
            result.sha256 = file_sha256(tmp)
            for side_file, text in language.side_files(picture.output).items():
                write_text(side_file, text)
            result.seconds = time.perf_counter() - started
            # the picture's mark is in these packets, but `trace` names the picture's render
            result.render_id = record_render(
                self.catalog, result, dataclasses.replace(options, mark_id=None), started_at, self.settings,
                self.paths.root, self.commit_id,
                also=lambda session, render_id: session.add(language.record(render_id, picture.render_id)),
                delivery_name=self.delivery_name)
        return result

    def assertion(self, result: RenderResult, options: DeliveryOptions, started_at: str) -> dict:
        """The `org.reelforge.render` assertion: what made this file, enough to render it again."""
        return {
            "generator": f"reelforge {__version__}",
            "kind": result.kind, "episode": result.episode_id, "rendered_at": started_at,
            "rendered_by": options.actor, "unsigned_sha256": result.unsigned_sha256,
            "frame_manifest_sha256": frame_manifest_sha256(
                [(s.job.shot_path, s.first_frame, s.frame_hashes) for s in result.shots]),
            "pipeline": {"engine_version": ENGINE_VERSION, "encode_code": encode_code_hash(),
                         "render_code": sorted({s.job.engine for s in result.shots})},
            "encode": encode_record(self.settings),
            "delivery": delivery_record(self.settings, self.delivery_name),
            "shots": [{"shot": s.job.shot_path, "job_key": s.job.key, "backend": s.job.backend,
                       "seed": str(s.job.seed), "prompt": s.job.prompt, "negative_prompt": s.job.negative_prompt,
                       "checkpoint_sha256": s.job.model.checkpoint_sha256 if s.job.model else None,
                       "first_frame": s.first_frame, "frames": len(s.frame_hashes)} for s in result.shots],
            "invisible_mark": options.mark_id is not None,
            "visible_watermark": options.watermark_record(self.settings, self.paths.root.resolve()),
            "environment": result.environment,
        }
