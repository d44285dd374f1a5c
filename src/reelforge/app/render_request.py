"""Render requests: what `reelforge render` and the Open Studio both call.

One function takes a spec and what to render (everything, some episodes, one shot
or a frame range of it), and does the whole sequence a render needs: load and plan
the spec, take the production's lock, prepare the delivery (signing identity,
invisible mark), record the spec as a commit, render, deliver the contact sheet. The
command line and the web app only differ in how they show progress and errors, so
a render started from a browser is the same render, byte for byte, as one started
from a terminal.

A production can declare named deliveries beside its main one (`"deliveries": {"vertical": …}`):
an episode render delivers the main one (`renders/s01e01.mp4`, or `.mov` for a master), then each
named one (`renders/vertical/s01e01.mp4`), each planned with its own delivery (another shape frames
other jobs; the same frame has the same job keys, so its shots come from the store and only encode).
A shot, range or take render delivers the main delivery alone unless `delivery` names one: they are
checks of a shot, not deliveries of a cut. `delivery="main"` or a name restricts any render to one.

Bad input raises `RenderRefused` with the message a user should read and the exit
code the CLI gives it (2 bad input, 1 the production is busy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reelforge.app.store_budget import budget_warning, over_budget_note
from reelforge.backends.checkpoints import CheckpointError
from reelforge.backends.errors import ModelRenderError
from reelforge.backends.models import resolve_model
from reelforge.backends.runtime import RuntimeUnavailable, resolve_runtime
from reelforge.deliver.localize import Localization, burn_problems, episode_text, title_fonts
from reelforge.deliver.options import DeliveryError, DeliveryOptions, delivery_options, watermark_spec
from reelforge.deliver.sequence import SequenceError, WrittenSequence, deliver_sequences, frame_format
from reelforge.engine.pipeline import RenderPipeline, RenderResult
from reelforge.engine.shot import ProgressFn
from reelforge.errors import Problem, SpecError
from reelforge.farm.errors import FarmError
from reelforge.farm.options import FarmOptions
from reelforge.media.encode import encode_settings
from reelforge.media.watermark import WatermarkError
from reelforge.plan.cast import CastFileError
from reelforge.plan.jobs import EpisodePlan, ShotJob, find_job, plan, with_take
from reelforge.plan.look import lut_problems
from reelforge.plan.lut import LutError
from reelforge.plan.takes import MAX_TAKES, take_number
from reelforge.records.entities import RecordsError
from reelforge.records.versions import AUTO_REASON, commit_spec
from reelforge.spec.delivery import named_delivery
from reelforge.spec.load import load_production, translation_warnings
from reelforge.spec.model import BACKENDS, GENERATIVE_BACKENDS, Model
from reelforge.store.catalog import MAIN, Catalog
from reelforge.store.paths import SHOTS_DIR, TAKES_DIR, ProductionBusy, ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.trust.identity import CredentialsError

if TYPE_CHECKING:
    from reelforge.farm.runner import FarmShots

# start(task, label, total_frames) when a part begins; progress(job, n) then reports frames (engine/shot.py).
StartFn = Callable[[str, str, int], None]  # (task id: episode id, label, total frames)
AnnounceFn = Callable[[str], None]


class RenderRefused(Exception):
    """A render that cannot start or go on because of what the user gave. `plain`: print as is (a spec report)."""

    def __init__(self, message: str, code: int = 2, plain: bool = False):
        super().__init__(message)
        self.code = code
        self.plain = plain


# Errors in what the user gave (checkpoints, devices, logos, signing chains) that surface only once a model loads
# or a file is delivered: said as bad input (exit 2), never as a traceback.
RENDER_INPUT_ERRORS = (CheckpointError, RuntimeUnavailable, ModelRenderError, DeliveryError, WatermarkError,
                       CredentialsError, SequenceError)


def load_spec(spec: Path):
    """The production a spec describes; RenderRefused carries every problem with its JSON path."""
    try:
        return load_production(spec)
    except SpecError as exc:
        raise RenderRefused(str(exc), plain=True) from None


def parse_range(text: str) -> tuple[int, int]:
    """'10:20' → (10, 20): 0-based, end exclusive, like a Python slice."""
    try:
        start_text, stop_text = text.split(":")
        start, stop = int(start_text), int(stop_text)
    except ValueError:
        raise RenderRefused(f"--frames must look like START:END (e.g. 10:20), got '{text}'") from None
    if not 0 <= start < stop:
        raise RenderRefused(f"--frames {text}: need 0 ≤ START < END")
    return start, stop


def with_model_override(production, spec: Path, backend: str | None, checkpoint: Path | None):
    """The production with --backend / --checkpoint applied (the command line wins over the spec)."""
    if backend is None and checkpoint is None:
        return production
    if backend is None and checkpoint is not None and production.backend == "previz":
        raise RenderRefused(f"--checkpoint needs --backend ({', '.join(GENERATIVE_BACKENDS[:-1])} or "
                            f"{GENERATIVE_BACKENDS[-1]}): this spec renders previz")
    if backend is not None and backend not in BACKENDS:
        raise RenderRefused(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    update: dict = {}
    if backend is not None:
        update["backend"] = backend
    if checkpoint is not None:
        model = production.model or Model(checkpoint=str(checkpoint.absolute()))
        update["model"] = model.model_copy(update={"checkpoint": str(checkpoint.absolute())})
    production = production.model_copy(update=update)
    if production.backend != "previz" and production.model is None:
        raise RenderRefused(f"backend '{production.backend}' needs a checkpoint: give --checkpoint PATH "
                            f"or \"model\": {{\"checkpoint\": ...}} in {spec}")
    return production


def auto_device() -> str:
    """cuda when this torch sees a GPU, else cpu."""
    import torch  # deferred: seconds to import, and only a generative backend asks for a device

    return "cuda" if torch.cuda.is_available() else "cpu"


def plan_episodes(production, spec: Path, device: str = "auto", threads: int | None = None,
                  farm_has_gpu: bool | None = None) -> list[EpisodePlan]:
    """Plan every episode; a bad device, checkpoint or LUT file is a user error (RenderRefused), never a traceback.

    On a farm (`farm_has_gpu` not None) "auto" means the farm's GPUs if it has any, and the device
    is checked by the nodes that render, not by this machine.
    """
    root = ProductionPaths.for_spec(spec).root  # the spec's folder: its relative file paths start there
    try:
        if production.backend == "previz":
            try:
                return plan(production, base_dir=root)
            except CastFileError as exc:
                raise RenderRefused(f"{spec}: {exc}") from None
        if device == "auto":
            device = auto_device() if farm_has_gpu is None else ("cuda" if farm_has_gpu else "cpu")
        try:
            model = resolve_model(production, resolve_runtime(device, threads, here=farm_has_gpu is None), root)
            return plan(production, root, model)
        except (CheckpointError, RuntimeUnavailable, CastFileError) as exc:
            raise RenderRefused(f"{spec}: {exc}") from None
    except SpecError as exc:  # a style family file that broke after the spec was validated: names that file
        raise RenderRefused(str(exc), plain=True) from None
    except LutError as exc:  # name every unreadable LUT by its place in the spec
        problems = [Problem(where, message) for where, message in lut_problems(production, root)]
        if not problems:
            raise RenderRefused(f"{spec}: {exc}") from None
        raise RenderRefused(str(SpecError(spec, problems)), plain=True) from None


def chosen_languages(production, spec: Path, languages: str | list[str] | None, shot: str | None,
                     warn: Callable[[list], None] | None = None) -> list[str]:
    """--languages as a list of declared tags (warning about missing translations); [] when not given."""
    if languages is None:
        return []
    tags = languages.split(",") if isinstance(languages, str) else languages
    chosen = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if not chosen:
        raise RenderRefused("--languages needs at least one language tag, e.g. --languages en,fr")
    if shot:
        raise RenderRefused("--languages delivers whole episodes; leave out --shot")
    declared = production.delivery_languages()
    undeclared = [tag for tag in chosen if tag not in declared]
    if undeclared:
        raise RenderRefused(f"--languages {', '.join(undeclared)}: not declared in {spec} ($.languages: "
                            f"{', '.join(declared)}); add {'it' if len(undeclared) == 1 else 'them'} to \"languages\"")
    if warn is not None:
        warn(translation_warnings(production))
    return chosen


def localization(production, episode, languages: list[str], burn_titles: bool = False, root: Path | None = None):
    """The language deliveries of one episode (deliver/localize.py), or None for the picture alone; burned titles
    are drawn with each language's font, kept in the production at `root`."""
    if not languages:
        return None
    fonts = title_fonts(production, root, languages) if burn_titles and root is not None else {}
    return Localization([episode_text(production, episode, language) for language in languages], burn_titles,
                        fonts, root)


def auto_commit(production, spec: Path, actor: str, identity=None, announce: AnnounceFn | None = None) -> int:
    """Commit the spec before it renders (unless its state is the latest commit's); the commit's id."""
    try:
        with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog:
            catalog.check()  # a damaged catalog is said before a render adds to it (quick_check: milliseconds)
            result = commit_spec(catalog, production, spec, actor=actor, reason=AUTO_REASON, auto=True,
                                 identity=identity)
    except RecordsError as exc:
        raise RenderRefused(f"error: {exc}", plain=True) from None
    if result.created and announce is not None:
        announce(f"recorded the spec as commit #{result.commit_id} ({AUTO_REASON}, by {actor}): "
                 f"{len(result.versions)} new version(s)")
    return result.commit_id


@dataclass
class RenderRequest:
    """What to render. Empty `episodes` and no `shot`: the whole production."""

    spec: Path
    episodes: list[str] = field(default_factory=list)
    shot: str | None = None
    frames: tuple[int, int] | None = None  # with `shot`: START, END (end exclusive)
    out: Path | None = None
    backend: str | None = None
    checkpoint: Path | None = None
    device: str = "auto"
    threads: int | None = None
    mark: bool = False
    actor: str | None = None
    languages: str | list[str] | None = None
    burn_titles: bool = False
    farm: FarmOptions | None = None  # render the shots on a Ray farm (farm/); None: in this process
    assemble: bool = False  # join the episodes from the store only: refused when a shot would have to render
    takes: tuple[int, ...] = ()  # with `shot`: render these takes of it (plan/takes.py), each a file of its own
    frames_out: str | None = None  # also a signed frame sequence beside each video: png, exr, exr-float
    delivery: str | None = None  # "main" or a named delivery: only that one; None: main, then every named one


@dataclass
class RenderOutcome:
    results: list[RenderResult]
    contact_sheet: Path | None  # full and episode renders deliver one
    mark_id: int | None
    actor: str
    commit_id: int
    job: ShotJob | None = None  # the shot of a shot render
    range_matches: bool = True  # a shot range equals the shot's full render where one exists
    range_report: str = ""
    budget_warning: str | None = None  # said before the render: it would take the store past $.store.budget
    budget_note: str | None = None  # said after it: the store is past $.store.budget
    sequences: list[WrittenSequence] = field(default_factory=list)  # with frames_out (deliver/sequence.py)


def chosen_work(request: RenderRequest, planned_all: list[EpisodePlan]) -> tuple[list[EpisodePlan], ShotJob | None]:
    """The episodes a request names (all when none) and its shot, if any; RenderRefused for an unknown one."""
    episodes = planned_all
    if request.episodes:
        unknown = sorted(set(request.episodes) - {e.episode_id for e in planned_all})
        if unknown:
            raise RenderRefused(f"unknown episode {', '.join(unknown)}; episodes: "
                                f"{', '.join(e.episode_id for e in planned_all)}")
        episodes = [e for e in planned_all if e.episode_id in request.episodes]
    if request.frames and not request.shot:
        raise RenderRefused("--frames needs --shot")
    check_takes(request)
    job = None
    if request.shot:
        try:
            job = find_job(episodes, request.shot)
        except KeyError as exc:
            if request.episodes and any(j.shot_path == request.shot for e in planned_all for j in e.jobs):
                raise RenderRefused(f"shot '{request.shot}' is not in the episodes chosen with --episode") from None
            raise RenderRefused(exc.args[0]) from None
        stop_at = request.frames[1] if request.frames else job.frames
        if stop_at > job.frames:
            first = request.frames[0] if request.frames else 0
            raise RenderRefused(f"--frames {first}:{stop_at} is past the end of {request.shot} "
                                f"({job.frames} frames)")
    return episodes, job


def refuse_unstored(episodes: list[EpisodePlan], job: ShotJob | None, store: ShotStore, spec: Path) -> None:
    """An assembly joins stored shots and renders nothing: RenderRefused naming each shot it would have to render."""
    if job is not None:
        raise RenderRefused("assemble joins whole episodes; leave out --shot (render the shot with `reelforge render`)")
    for episode in episodes:
        missing = [j.shot_path for j in episode.jobs if not store.holds(j.key, j.frames)]
        if missing:
            raise RenderRefused(f"{episode.episode_id} cannot be assembled from the store: {', '.join(missing)} "
                                f"{'has' if len(missing) == 1 else 'have'} no render of the current spec; render "
                                f"{'it' if len(missing) == 1 else 'them'} first (`reelforge render {spec} --shot "
                                f"{missing[0]}`), or the whole episode (`reelforge render {spec} --episode "
                                f"{episode.episode_id}`)")


def check_frames_out(request: RenderRequest) -> None:
    """An unknown --frames-out is refused before anything is planned (a render, or a dry run's plan)."""
    if request.frames_out is not None:
        try:
            frame_format(request.frames_out)
        except SequenceError as exc:
            raise RenderRefused(str(exc)) from None


def check_takes(request: RenderRequest) -> None:
    """Takes are whole renders of one shot, numbered 1 to MAX_TAKES; RenderRefused says what is wrong."""
    if not request.takes:
        return
    if not request.shot:
        raise RenderRefused("--takes needs --shot: takes are of one shot, e.g. --shot s01e01/sc01/sh01 --takes 4")
    if request.frames:
        raise RenderRefused("--takes renders whole shots; leave out --frames")
    wrong = [number for number in request.takes if not 1 <= number <= MAX_TAKES]
    if wrong:
        raise RenderRefused(f"take {wrong[0]}: takes are numbered 1 to {MAX_TAKES}")


def take_output(out_dir: Path, job: ShotJob, suffix: str = ".mp4") -> Path:
    """Where a take is delivered: takes/EPISODE/SCENE/SHOT/take-K.mp4 (or .mov) in the output folder."""
    return out_dir / TAKES_DIR / job.episode_id / job.scene_id / job.shot_id / f"take-{take_number(job.take)}{suffix}"


@dataclass(frozen=True)
class ChosenDelivery:
    """One delivery a render makes: its name (None: the main one), the production as that delivery sees it
    (its `delivery` replaced by the named one's full settings) and the folder its files go to."""

    name: str | None
    production: object  # spec.model.Production
    out_dir: Path

    @property
    def label(self) -> str:
        return self.name or MAIN


def chosen_deliveries(production, spec: Path, request: RenderRequest, out_dir: Path) -> list[ChosenDelivery]:
    """The deliveries a request makes, the main one first: `request.delivery` alone, or (None) the main one and,
    for episode renders other than a re-assembly, every named one; RenderRefused for an undeclared name."""
    main = ChosenDelivery(None, production, out_dir)
    named = {name: ChosenDelivery(name, production.model_copy(update={
        "delivery": named_delivery(production.delivery, extra)}), out_dir / name)
        for name, extra in production.deliveries.items()}
    if request.delivery is None:
        # a shot, range or take checks a shot; a re-assembly brings the main cut up to date
        return [main] if request.shot or request.assemble else [main, *named.values()]
    if request.delivery == MAIN:
        return [main]
    if request.delivery not in named:
        declared = ", ".join([MAIN, *named])
        raise RenderRefused(f"--delivery {request.delivery}: not a delivery of {spec} (its deliveries: {declared}); "
                            "name one, or declare it in \"deliveries\"")
    return [named[request.delivery]]


def takes_report(results: list[RenderResult]) -> str:
    """'take 2 of s01e01/sc01/sh01 rendered (seed 123…); take 1 … reused from the store'."""
    return "; ".join(f"take {take_number(shot.job.take)} of {shot.job.shot_path} "
                     f"{'reused from the store' if shot.reused else 'rendered'} (seed {shot.job.seed})"
                     for result in results for shot in result.shots)


def shot_runner(farm: FarmOptions | None, watch: Callable | None = None) -> FarmShots | None:
    """The farm's runner (joined now, so a wrong address is said before anything renders), or None: this process."""
    if farm is None:
        return None
    # Deferred: Ray takes a second to import, and most renders are local.
    from reelforge.farm.runner import FarmShots

    try:
        return FarmShots(farm, watch)
    except FarmError as exc:
        raise RenderRefused(str(exc), code=exc.code) from None


def render_production(request: RenderRequest, *, start: StartFn | None = None, progress: ProgressFn | None = None,
                      announce: AnnounceFn | None = None, warn: Callable[[list], None] | None = None,
                      planned: Callable[[list[EpisodePlan], ShotJob | None], None] | None = None,
                      farm_watch: Callable | None = None) -> RenderOutcome:
    """Render what the request names; RenderRefused for anything the user must fix.

    `start(task, label, frames)` is called once per progress task (an episode, or the shot) before
    `progress(job, n)` reports frames as they are finished; on a farm, `farm_watch(status)` is
    called with every node's activity and each retry (farm/runner.py: `FarmStatus`).
    """
    spec = request.spec
    check_frames_out(request)
    announce = announce or (lambda message: None)
    start = start or (lambda task, label, total: None)
    as_written = load_spec(spec)  # what the auto-commit records (the request's overrides are in the jobs)
    production = with_model_override(as_written, spec, request.backend, request.checkpoint)
    paths = ProductionPaths.for_spec(spec)
    out_dir = request.out or paths.renders
    if out_dir.exists() and not out_dir.is_dir():
        raise RenderRefused(f"--out {out_dir} is a file; give a folder")
    deliveries = chosen_deliveries(production, spec, request, out_dir)
    runner = shot_runner(request.farm, farm_watch)  # joined before planning: a farm plans for its own devices
    farm_has_gpu = runner.has_gpu() if runner is not None else None
    # each delivery planned as it sees the production: another shape frames other jobs, the same frame the same
    work = [(d, *chosen_work(request, plan_episodes(d.production, spec, request.device, request.threads,
                                                    farm_has_gpu))) for d in deliveries]
    chosen = chosen_languages(production, spec, request.languages, request.shot, warn)
    if request.burn_titles and not chosen:
        raise RenderRefused("--burn-titles needs --languages (the titles are drawn in each language)")
    if request.burn_titles and (problems := burn_problems(production, paths.root, chosen)):  # before anything renders
        raise RenderRefused(str(SpecError(spec, problems)), plain=True)
    if request.assemble:
        for _, episodes, job in work:
            refuse_unstored(episodes, job, ShotStore.of(ProductionPaths.for_spec(spec)), spec)
    if planned is not None:
        planned(work[0][1], work[0][2])
    # Before anything renders: would the frames this render stores take the store past its budget? (never blocks)
    takes_of = {d.label: [with_take(job, production.seed, number) for number in request.takes] if job is not None
                else [] for d, _, job in work}
    jobs = {j.key: j for d, episodes, job in work
            for j in takes_of[d.label] or ([job] if job is not None else [j for e in episodes for j in e.jobs])}
    warning = budget_warning(spec, production.store, list(jobs.values()), request.frames)
    if warning is not None:
        announce(warning)

    # One hold of the production's lock from the first file a render may create (the signing identity, the
    # catalog its auto-commit opens) to the last it writes: two renders of a new production never both create.
    try:
        with ExitStack() as held:
            held.enter_context(paths.lock("a render"))
            delivery = delivery_options(production, paths.root, request.mark, request.actor, announce=announce)
            options = {d.label: own_options(d, delivery, production.delivery.watermark, paths.root) for d, _, _ in work}
            # No render of an unrecorded state: the spec is committed first (creating the catalog on a first render).
            commit_id = auto_commit(as_written, spec, delivery.actor, delivery.identity, announce)
            outcome = RenderOutcome(results=[], contact_sheet=None, mark_id=delivery.mark_id, actor=delivery.actor,
                                    commit_id=commit_id, job=work[0][2], budget_warning=warning)
            pipeline = held.enter_context(RenderPipeline(paths, encode_settings(production.delivery),
                                                         progress=progress, delivery=delivery, commit_id=commit_id,
                                                         runner=runner))
            # left by a render that was killed, in the output folder and every declared delivery's
            paths.remove_stale_temp_files(out_dir, [out_dir / name for name in production.deliveries])
            for chosen_delivery, episodes, job in work:
                _render_delivery(pipeline, chosen_delivery, options[chosen_delivery.label], episodes, job,
                                 takes_of[chosen_delivery.label], request, chosen, outcome, start)
            if work[0][2] is None:  # one contact sheet, of the first delivery's shots, in its folder
                first, episodes, _ = work[0]
                # A partial render (--episode) gets its own sheet rather than replacing the whole series'.
                sheet_name = ("contact-sheet.png" if not request.episodes
                              else f"contact-sheet.{'+'.join(request.episodes)}.png")
                marks = {loc.id: {name: (float(x), float(z)) for name, (x, z) in loc.marks.items()}
                         for loc in production.locations}  # drawn on each shot's plan; not in any job
                outcome.contact_sheet = pipeline.deliver_contact_sheet(
                    [r for r in outcome.results if r.delivery == first.label], first.out_dir / sheet_name, marks)
            if request.frames_out is not None:  # from the stored frames the videos were made of: nothing renders
                outcome.sequences = deliver_sequences(distinct_pictures(outcome.results), request.frames_out,
                                                      pipeline.store.frames, delivery.identity, production.series.id)
    except ProductionBusy as exc:
        raise RenderRefused(str(exc), code=1) from None
    except RENDER_INPUT_ERRORS as exc:  # a checkpoint that hashes but will not load, say
        raise RenderRefused(f"{spec}: {exc}") from None
    except FarmError as exc:  # a node without the checkpoint (2), a farm that lost every worker (1)
        raise RenderRefused(f"{spec}: {exc}", code=exc.code) from None
    outcome.budget_note = over_budget_note(spec, production.store)
    return outcome


def own_options(chosen: ChosenDelivery, main: DeliveryOptions, main_watermark, root: Path) -> DeliveryOptions:
    """The delivery options of one delivery: the main ones, with a named delivery's own visible watermark
    (or none: `"watermark": false`), its logo checked before anything renders."""
    watermark = chosen.production.delivery.watermark
    if chosen.name is None or watermark == main_watermark:
        return main
    return dataclasses.replace(main, watermark=watermark_spec(watermark, root, f"$.deliveries.{chosen.name}.watermark"))


def _render_delivery(pipeline: RenderPipeline, chosen: ChosenDelivery, options: DeliveryOptions,
                     episodes: list[EpisodePlan], job: ShotJob | None, takes: list[ShotJob], request: RenderRequest,
                     languages: list[str], outcome: RenderOutcome, start: StartFn) -> None:
    """Render and deliver what the request names, as one delivery: its takes, its shot range or its episodes."""
    settings = encode_settings(chosen.production.delivery)
    pipeline = pipeline.for_delivery(settings, chosen.name, options)
    out_dir, suffix = chosen.out_dir, settings.suffix
    said = f" ({chosen.name})" if chosen.name else ""
    if takes:
        for take in takes:
            start(take.episode_id, f"{take.shot_path} take {take_number(take.take)}{said}", take.frames)
            outcome.results.append(pipeline.render_shot(take, take_output(out_dir, take, suffix)))
        outcome.range_report = takes_report(outcome.results)
    elif job is not None:
        first, stop = request.frames or (0, job.frames)
        start(job.episode_id, f"{job.shot_path}{said}", stop - first)
        # '.' cannot occur in ids, so two shot paths never map to one file name
        name = f"{job.shot_path.replace('/', '.')}.f{first:05d}-{stop:05d}{suffix}"
        full = pipeline.store.job(job.key).read_manifest()  # before: a whole-shot render files its own
        result = pipeline.render_range(job, first, stop, out_dir / SHOTS_DIR / name)
        outcome.range_matches, outcome.range_report = compare_with_full_render(full, job, result, first)
        outcome.results.append(result)
    else:
        for e in episodes:
            start(e.episode_id, f"{e.episode_id}{said}", e.frames)
        outcome.results += [pipeline.render_episode(e, out_dir / f"{e.episode_id}{suffix}",
                                                    localization(chosen.production, e, languages, request.burn_titles,
                                                                 pipeline.paths.root))
                            for e in episodes]


def distinct_pictures(results: list[RenderResult]) -> list[RenderResult]:
    """The deliveries whose frames no earlier one has (a frame sequence of each): a master of the main frame holds
    the main delivery's frames again, a vertical cut frames of its own."""
    seen: set[tuple] = set()
    distinct = []
    for result in results:
        frames = (result.episode_id, tuple(digest for shot in result.shots for digest in shot.frame_hashes))
        if frames not in seen:
            seen.add(frames)
            distinct.append(result)
    return distinct


def compare_with_full_render(full: list[str] | None, job: ShotJob, result: RenderResult, start: int
                             ) -> tuple[bool, str]:
    """Compare a re-rendered range with the shot's full render (its manifest before the range), if any."""
    hashes = result.shots[0].frame_hashes
    if full is None:
        if start == 0 and len(hashes) == job.frames:
            return True, f"all {len(hashes)} frames of {job.shot_path} rendered"
        return True, f"{len(hashes)} frames rendered; no full render of {job.shot_path} to compare with yet"
    differ = [start + i for i, h in enumerate(hashes) if full[start + i] != h]
    if differ:
        return False, f"{len(differ)} frame(s) differ from the full render: {differ}"
    return True, f"frames {start}–{start + len(hashes) - 1} match the full render byte for byte"
