"""The `reelforge` command line: init, validate, schema, render, verify, energy, models.

Exit codes: 0 success, 1 a check failed (verify found differences, or the
production is busy), 2 bad input (spec problems, unknown shot, bad range).
Bad input never prints a traceback.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from reelforge.errors import SpecError
from reelforge.media.encode import EncodeSettings
from reelforge.plan.jobs import ShotJob, find_job, plan
from reelforge.project import ProductionBusy, ProductionPaths
from reelforge.render import Engine, RenderResult, encode_settings, file_sha256
from reelforge.spec.load import load_production, production_schema


def _render_input_errors() -> tuple[type[Exception], ...]:
    """Errors in what the user gave (checkpoints, devices) that surface only when a model loads."""
    from reelforge.backends.checkpoints import CheckpointError
    from reelforge.backends.errors import ModelRenderError
    from reelforge.backends.runtime import RuntimeUnavailable
    from reelforge.deliver import DeliveryError
    from reelforge.media.watermark import WatermarkError
    from reelforge.trust.identity import CredentialsError

    return (CheckpointError, RuntimeUnavailable, ModelRenderError, DeliveryError, WatermarkError, CredentialsError)


RENDER_INPUT_ERRORS = _render_input_errors()

app = typer.Typer(help="Deterministic rendering of AI video series on your own hardware.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # paths stay unbroken
    return typer.Exit(code)


def load_or_exit(spec: Path):
    try:
        return load_production(spec)
    except SpecError as exc:
        errors.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def parse_range(text: str) -> tuple[int, int]:
    """'10:20' → (10, 20): 0-based, end exclusive, like a Python slice."""
    try:
        start_text, stop_text = text.split(":")
        start, stop = int(start_text), int(stop_text)
    except ValueError:
        raise fail(f"--frames must look like START:END (e.g. 10:20), got '{text}'") from None
    if not 0 <= start < stop:
        raise fail(f"--frames {text}: need 0 ≤ START < END")
    return start, stop


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="folder to create for the new production")]) -> None:
    """Scaffold a production folder with a working example spec."""
    spec = directory / "production.json"
    if spec.exists():
        raise fail(f"{spec} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    template = resources.files("reelforge") / "templates" / "production.json"
    with resources.as_file(template) as source:
        shutil.copyfile(source, spec)
    from reelforge.trust.identity import create_identity, default_identity_folder

    identity = default_identity_folder(directory)
    if not (identity / "chain.pem").exists():
        from reelforge.trust.identity import CredentialsError

        try:
            create_identity(identity, directory.resolve().name or "production")
        except CredentialsError as exc:
            raise fail(f"{identity}: {exc} (an incomplete identity, e.g. from an interrupted init: remove the "
                       "folder and run init again)") from None
        console.print(f"Created the production's signing identity in {identity} (keys readable by you only).")
    console.print(f"Created [bold]{spec}[/]. Next:\n  reelforge validate {spec}\n  reelforge render {spec}")


@app.command()
def validate(spec: Annotated[Path, typer.Argument(help="production.json")]) -> None:
    """Check a spec; list every problem with its JSON path (exit 2 if any)."""
    production = load_or_exit(spec)
    from reelforge.errors import Problem
    from reelforge.plan.look import lut_problems

    files = [Problem(where, message) for where, message in lut_problems(production, ProductionPaths.for_spec(spec).root)]
    if files:  # the spec is well-formed but names a LUT file that cannot be read
        errors.print(str(SpecError(spec, files)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    shots = sum(len(s.shots) for e in production.episodes for s in e.scenes)
    console.print(f"[green]OK[/] {spec}: {len(production.episodes)} episode(s), {shots} shot(s)")


@app.command()
def schema(style: Annotated[bool, typer.Option("--style", help="the schema of a style family file "
                                                               "(styles/*.json) instead")] = False) -> None:
    """Print the spec's JSON Schema (point your editor at it)."""
    if style:
        from reelforge.spec.styles import family_schema

        print(json.dumps(family_schema(), indent=2))
        return
    print(json.dumps(production_schema(), indent=2))


@app.command()
def styles(spec: Annotated[Path | None, typer.Argument(help="production.json: include its styles/ folder")] = None
           ) -> None:
    """List the style families a production can use: built-in and its own (styles/*.json beside the spec)."""
    from reelforge.spec.styles import load_families

    if spec is not None and not spec.is_file():
        raise fail(f"{spec}: no such spec file")
    families = load_families(spec.absolute().parent if spec is not None else None)
    table = Table(title="style families", title_justify="left")
    for column in ("id", "from", "previz recipe", "name"):
        table.add_column(column)
    for name, loaded in sorted(families.families.items()):
        source = "built-in" if loaded.builtin else _shown(loaded.file)
        recipe = " → ".join(step.op for step in loaded.family.previz) or "—"
        table.add_row(name, source, recipe, loaded.family.name)
    console.print(table)
    if families.problems:  # the spec's validation reports them too; say so here rather than hide a family
        for problem in families.problems:
            errors.print(f"{_shown(problem.file)}: {problem.path}: {problem.message}", highlight=False,
                         markup=False, soft_wrap=True)
        raise typer.Exit(2)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _summary(results: list[RenderResult]) -> None:
    table = Table(title="render summary", title_justify="left")
    for column in ("episode", "shots rendered", "shots reused", "frames", "seconds", "sha256"):
        table.add_column(column, no_wrap=True)
    for r in results:
        table.add_row(r.episode_id, str(len(r.shots) - r.shots_reused), str(r.shots_reused), str(r.frames),
                      f"{r.seconds:.1f}", r.sha256[:12])
    console.print(table)
    for r in results:
        console.print(f"wrote {_shown(r.output)}", highlight=False, soft_wrap=True)


def with_model_override(production, spec: Path, backend: str | None, checkpoint: Path | None):
    """The production with --backend / --checkpoint applied (the command line wins over the spec)."""
    from reelforge.spec.model import BACKENDS, Model

    if backend is None and checkpoint is None:
        return production
    if backend is None and checkpoint is not None and production.backend == "previz":
        raise fail("--checkpoint needs --backend (sdxl, animatediff, animatediff-sdxl or wan): this spec renders previz")
    if backend is not None and backend not in BACKENDS:
        raise fail(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    update: dict = {}
    if backend is not None:
        update["backend"] = backend
    if checkpoint is not None:
        model = production.model or Model(checkpoint=str(checkpoint.absolute()))
        update["model"] = model.model_copy(update={"checkpoint": str(checkpoint.absolute())})
    production = production.model_copy(update=update)
    if production.backend != "previz" and production.model is None:
        raise fail(f"backend '{production.backend}' needs a checkpoint: give --checkpoint PATH "
                   f"or \"model\": {{\"checkpoint\": ...}} in {spec}")
    return production


def plan_or_exit(production, spec: Path, device: str, threads: int | None):
    """Plan every episode; a bad device, checkpoint or LUT file is a user error (exit 2), never a traceback."""
    from reelforge.plan.cast import CastFileError
    from reelforge.plan.look import LutError, lut_problems

    root = ProductionPaths.for_spec(spec).root  # the spec's folder: its relative file paths start there
    try:
        if production.backend == "previz":
            try:
                return plan(production, base_dir=root)
            except CastFileError as exc:
                raise fail(f"{spec}: {exc}") from None
        from reelforge.backends.checkpoints import CheckpointError
        from reelforge.backends.runtime import RuntimeUnavailable, resolve_runtime

        try:
            runtime = resolve_runtime(device, threads)
            return plan(production, runtime, root)
        except (CheckpointError, RuntimeUnavailable, CastFileError) as exc:
            raise fail(f"{spec}: {exc}") from None
    except SpecError as exc:  # a style family file that broke after the spec was validated: names that file
        errors.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except LutError as exc:  # name every unreadable LUT by its place in the spec
        from reelforge.errors import Problem

        problems = [Problem(where, message) for where, message in lut_problems(production, root)]
        if not problems:
            raise fail(f"{spec}: {exc}") from None
        errors.print(str(SpecError(spec, problems)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def auto_device() -> str:
    """cuda when this torch sees a GPU, else cpu (torch is imported only for generative backends)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@app.command()
def render(
    spec: Annotated[Path, typer.Argument(help="production.json")],
    out: Annotated[Path | None, typer.Option(help="output folder (default: renders/ beside the spec)")] = None,
    episode: Annotated[list[str] | None, typer.Option(help="render only this episode (repeatable)")] = None,
    shot: Annotated[str | None, typer.Option(help="one shot, e.g. s01e01/sc01/sh03")] = None,
    frames: Annotated[str | None, typer.Option(help="with --shot: frame range START:END (end exclusive)")] = None,
    backend: Annotated[str | None, typer.Option(help="previz, sdxl, animatediff, animatediff-sdxl or wan "
                                                     "(overrides the spec)")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="local checkpoint folder or SDXL .safetensors "
                                                         "(overrides model.checkpoint)")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto (cuda when a GPU is visible); part of the job key")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: torch's, the physical cores); "
                                                     "part of the job key")] = None,
    mark: Annotated[bool, typer.Option("--mark", help="give this delivery an invisible mark that "
                                                      "`reelforge trace` reads back from a leaked copy")] = False,
    actor: Annotated[str | None, typer.Option(help="who is rendering, for the records (default: "
                                                   "$REELFORGE_ACTOR or your login)")] = None,
) -> None:
    """Render episodes to 1080p H.264 MP4s (or a frame range of one shot), signed with Content Credentials."""
    production = with_model_override(load_or_exit(spec), spec, backend, checkpoint)
    paths = ProductionPaths.for_spec(spec)
    out_dir = out or paths.renders
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir} is a file; give a folder")
    if production.backend != "previz" and device == "auto":
        device = auto_device()
    episodes = plan_or_exit(production, spec, device, threads)
    if episode:
        unknown = sorted(set(episode) - {e.episode_id for e in episodes})
        if unknown:
            raise fail(f"unknown episode {', '.join(unknown)}; episodes: {', '.join(e.episode_id for e in episodes)}")
        episodes = [e for e in episodes if e.episode_id in episode]
    if frames and not shot:
        raise fail("--frames needs --shot")
    job = None
    if shot:
        try:
            job = find_job(episodes, shot)
        except KeyError as exc:
            if episode and any(j.shot_path == shot for e in plan_or_exit(production, spec, device, threads)
                               for j in e.jobs):
                raise fail(f"shot '{shot}' is not in the episodes chosen with --episode") from None
            raise fail(exc.args[0]) from None
    settings = encode_settings(production.delivery)
    from reelforge.deliver import DeliveryError, delivery_options

    try:
        with paths.lock():  # the identity a first render creates is made under the production's lock
            delivery = delivery_options(production, paths.root, mark, actor, announce=console.print)
    except DeliveryError as exc:
        raise fail(f"{spec}: {exc}") from None
    except ProductionBusy as exc:
        raise fail(str(exc), code=1) from None
    try:
        with paths.lock(), progress_bar() as bar:
            paths.remove_stale_temp_files(out_dir)  # left by a render that was killed
            tasks: dict[str, int] = {}

            def advance(shot_job: ShotJob, n: int) -> None:
                task = tasks[shot_job.episode_id]
                bar.update(task, advance=n, description=f"{shot_job.episode_id} {shot_job.shot_path}")

            engine = Engine(paths, settings, progress=advance, delivery=delivery)
            if job is not None:
                start, stop = parse_range(frames) if frames else (0, job.frames)
                if stop > job.frames:
                    raise fail(f"--frames {start}:{stop} is past the end of {shot} ({job.frames} frames)")
                tasks[job.episode_id] = bar.add_task(job.shot_path, total=stop - start)
                # '.' cannot occur in ids, so two shot paths never map to one file name
                name = f"{job.shot_path.replace('/', '.')}.f{start:05d}-{stop:05d}.mp4"
                result = engine.render_range(job, start, stop, out_dir / "shots" / name)
                range_matches = _report_range(engine, job, result, start)
                results = [result]
            else:
                for e in episodes:
                    tasks[e.episode_id] = bar.add_task(e.episode_id, total=e.frames)
                results = [engine.render_episode(e, out_dir / f"{e.episode_id}.mp4") for e in episodes]
                sheet = engine.deliver_contact_sheet(results, out_dir / "contact-sheet.png")
    except ProductionBusy as exc:
        raise fail(str(exc), code=1) from None
    except RENDER_INPUT_ERRORS as exc:  # a checkpoint that hashes but will not load, say
        raise fail(f"{spec}: {exc}") from None
    _summary(results)
    if job is None:
        console.print(f"contact sheet: {sheet}", highlight=False)
    if delivery.mark_id is not None:
        console.print(f"invisible mark {delivery.mark_id:016x} recorded for {delivery.actor}", highlight=False)
    if job is not None and not range_matches:
        raise typer.Exit(1)


def _report_range(engine: Engine, job: ShotJob, result: RenderResult, start: int) -> bool:
    """Compare a re-rendered range with the shot's full render, when one exists; False if any frame differs."""
    from reelforge.store.journal import JobFiles

    full = JobFiles(engine.paths.jobs, job.key).read_manifest()
    hashes = result.shots[0].frame_hashes
    if full is None:
        console.print(f"{len(hashes)} frames rendered; no full render of {job.shot_path} to compare with yet")
        return True
    differ = [start + i for i, h in enumerate(hashes) if full[start + i] != h]
    if differ:
        console.print(f"[red]{len(differ)} frame(s) differ from the full render:[/] {differ}")
    else:
        console.print(f"[green]frames {start}–{start + len(hashes) - 1} match the full render byte for byte[/]")
    return not differ


@app.command()
def energy(spec: Annotated[Path, typer.Argument(help="production.json")],
           as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False) -> None:
    """kWh per render and per finished minute, measured vs estimated, with datacentre PUE 1.3–1.5 for comparison."""
    from reelforge.energy.cli import energy_command

    energy_command(spec, as_json=as_json)


models_app = typer.Typer(help="Checkpoints: make tiny test checkpoints, hash a studio's own.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("make-tiny")
def make_tiny_command(
    directory: Annotated[Path, typer.Argument(help="new folder for the checkpoint or IP-Adapter; for a LoRA, "
                                                   "a new .safetensors file")],
    kind: Annotated[str, typer.Option(help="sdxl, animatediff, animatediff-sdxl, wan, controlnet-sdxl; adapters: "
                                           "lora-sdxl, lora-animatediff, lora-wan, ip-adapter-sdxl, "
                                           "ip-adapter-animatediff")],
    seed: Annotated[int, typer.Option(help="seed of the random weights")] = 0,
    single_file: Annotated[bool, typer.Option("--single-file", help="sdxl only: also write DIRECTORY.safetensors "
                                                                      "in the original single-file layout")] = False,
) -> None:
    """Write a tiny random-weight checkpoint or adapter that loads like a real one (for tests and trying things out)."""
    from reelforge.backends.tiny import KINDS, build_tiny, make_tiny

    if kind not in KINDS:
        raise fail(f"--kind must be one of {', '.join(KINDS)}, got '{kind}'")
    if single_file and kind != "sdxl":
        raise fail("--single-file is for --kind sdxl")
    try:
        make_tiny(directory, kind, seed)
    except (FileExistsError, ValueError) as exc:
        raise fail(str(exc)) from None
    what = "LoRA" if kind.startswith("lora-") else "IP-Adapter" if kind.startswith("ip-adapter-") else "checkpoint"
    console.print(f"wrote a tiny {kind} {what} to {directory}", highlight=False)
    if single_file:
        from reelforge.backends.single_file import write_sdxl_single_file

        target = directory.with_suffix(".safetensors")
        write_sdxl_single_file(build_tiny(kind, seed), target)
        console.print(f"wrote {target} (use \"config\": \"{directory}\" with it)", highlight=False)


@models_app.command("hash")
def hash_command(path: Annotated[Path, typer.Argument(help="checkpoint folder or file")]) -> None:
    """Print the content hash that goes into job keys (cached by size and mtime)."""
    from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256

    try:
        print(checkpoint_sha256(path))
    except CheckpointError as exc:
        raise fail(str(exc)) from None


credentials_app = typer.Typer(help="Content Credentials (C2PA) of delivered files.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")


@credentials_app.command("show")
def credentials_show(file: Annotated[Path, typer.Argument(help="a signed MP4 or PNG")],
                     as_json: Annotated[bool, typer.Option("--json", help="the manifest as JSON")] = False) -> None:
    """Print a file's Content Credentials readably (exit 1 if it has none)."""
    from reelforge.trust.credentials import credentials_show_command

    credentials_show_command(file, as_json)


@credentials_app.command("verify")
def credentials_verify(
    file: Annotated[Path, typer.Argument(help="a signed MP4 or PNG")],
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM (default: the production's root)")] = None,
    production_identity: Annotated[Path | None, typer.Option(help="a production's identity folder")] = None,
) -> None:
    """Exit 0 only if the signature is valid, the media hash matches and the chain leads to the anchor."""
    from reelforge.trust.credentials import credentials_verify_command

    credentials_verify_command(file, trust, production_identity)


@app.command()
def watermark(
    src: Annotated[Path, typer.Argument(help="input video")],
    dst: Annotated[Path, typer.Argument(help="output video")],
    text: Annotated[str, typer.Option(help="text to burn in")] = "",
    logo: Annotated[Path | None, typer.Option(help="PNG logo")] = None,
    position: Annotated[str, typer.Option(help="top-left, top-right, bottom-left, bottom-right or center")] = "bottom-right",
    opacity: Annotated[float, typer.Option(help="0 (invisible) to 1 (opaque)")] = 0.6,
    production: Annotated[Path | None, typer.Option(help="sign the output with this production's identity "
                                                         "(production.json)")] = None,
) -> None:
    """Burn a visible watermark in by the documented ffmpeg recipe (same input → same bytes); optionally sign it."""
    from reelforge.media.watermark import watermark_command

    if production is None:
        watermark_command(src, dst, text=text, logo=logo, position=position, opacity=opacity)
        return
    from reelforge.deliver import DeliveryError, signing_identity
    from reelforge.trust.credentials import sign_file

    if dst.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise fail(f"{dst}: a signed output must be .mp4, .m4v or .mov")
    try:  # resolve the identity first: a signing problem must not leave an unsigned file at DST
        identity = signing_identity(load_or_exit(production), ProductionPaths.for_spec(production).root)
    except DeliveryError as exc:
        raise fail(str(exc)) from None
    unsigned = dst.with_name(f".{dst.name}.tmp-unsigned{dst.suffix}")
    try:
        watermark_command(src, unsigned, text=text, logo=logo, position=position, opacity=opacity)
        sign_file(unsigned, dst, identity, assertion={"generator": "reelforge watermark", "source": src.name,
                                                      "watermark_text": text}, title=dst.name)
    except RENDER_INPUT_ERRORS as exc:
        raise fail(str(exc)) from None
    finally:
        unsigned.unlink(missing_ok=True)
    console.print(f"signed {dst}", highlight=False)


@app.command()
def trace(
    file: Annotated[Path, typer.Argument(help="a suspect copy (re-encoded, scaled, cropped or trimmed is fine)")],
    production: Annotated[Path | None, typer.Option(help="production.json whose renders to search "
                                                         "(found from the file's folder if omitted)")] = None,
) -> None:
    """Read a copy's invisible mark and name the render it came from (exit 1: no mark, or not one of ours)."""
    from reelforge.store.catalog import Catalog
    from reelforge.trust.mark import detect_mark_in_file

    if not file.is_file():
        raise fail(f"{file}: no such file")
    paths = ProductionPaths.for_spec(production) if production else ProductionPaths.find_for_file(file)
    if paths is None:
        raise fail("cannot tell which production to search; pass --production path/to/production.json")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    try:
        result = detect_mark_in_file(file)
    except Exception as exc:  # noqa: BLE001 - an undecodable file is bad input, not a crash
        raise fail(f"{file}: cannot read it as video ({exc})") from None
    if not result.found:
        console.print(f"no mark found in {file}", highlight=False)
        raise typer.Exit(1)
    found = Catalog(paths.catalog).render_for_mark(result.mark_id)
    if found is None:
        console.print(f"mark {result.mark_id:016x} found, but no render of {paths.root} carries it", highlight=False)
        raise typer.Exit(1)
    render_record, delivery = found
    console.print(f"mark {result.mark_id:016x}: render #{render_record.id} of {paths.root.name}, "
                  f"{render_record.kind} {render_record.episode_id}, rendered {render_record.started_at} "
                  f"by {delivery.rendered_by}, delivered as {render_record.output_path}", highlight=False)


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="a rendered MP4, or a shot path like s01e01/sc01/sh03")],
    production: Annotated[Path | None, typer.Option(help="production.json (found from the MP4's folder if omitted)")] = None,
    frames: Annotated[str | None, typer.Option(help="only this frame range START:END of the shot(s)")] = None,
) -> None:
    """Re-render from the recorded jobs and prove the bytes match (exit 1 if not)."""
    from reelforge.verify import verify_render

    file = Path(target) if target.lower().endswith((".mp4", ".mov")) else None
    if file is not None and not file.is_file():
        raise fail(f"{file}: no such file" if not file.exists() else f"{file} is not a file")
    if production is not None:
        if not production.is_file():
            raise fail(f"--production {production}: no such file")
        paths = ProductionPaths.for_spec(production)
    else:
        paths = ProductionPaths.find_for_file(file if file is not None else Path.cwd() / "x")
        if paths is None:
            raise fail("cannot tell which production this belongs to; pass --production path/to/production.json")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    from reelforge.store.catalog import Catalog

    catalog = Catalog(paths.catalog)
    shot_paths = None
    if file is not None:
        record = catalog.render_for_file(file_sha256(file)) or catalog.render_for_path(str(file.resolve()))
        if record is None:
            raise fail(f"{file} is not a render recorded in {paths.root}", code=1)
    else:
        record = catalog.render_with_shot(target)
        if record is None:
            raise fail(f"no recorded render contains shot '{target}'")
        shot_paths = {target}
    settings = EncodeSettings(**{k: v for k, v in json.loads(record.encode_json).items()
                                 if k in EncodeSettings.__dataclass_fields__})
    frame_range = parse_range(frames) if frames else None
    checked = [s for s in record.shots if shot_paths is None or s.shot_path in shot_paths]
    if frame_range is not None:
        for s in checked:
            if frame_range[0] >= s.first_frame + s.frame_count or frame_range[1] <= s.first_frame:
                raise fail(f"--frames {frames} is outside {s.shot_path} (frames {s.first_frame}–"
                           f"{s.first_frame + s.frame_count - 1} in this render)")
    total = sum(min(s.first_frame + s.frame_count, frame_range[1]) - max(s.first_frame, frame_range[0])
                if frame_range else s.frame_count for s in checked)
    with progress_bar() as bar:
        task = bar.add_task("verify", total=total)
        engine = Engine(paths, settings, progress=lambda job, n: bar.update(task, advance=n, description=job.shot_path))
        try:
            report = verify_render(engine, record, target, file, shot_paths, frame_range)
        except RENDER_INPUT_ERRORS as exc:
            raise fail(str(exc)) from None
    _print_report(report)
    raise typer.Exit(0 if report.ok and report.store_ok else 1)


def _print_report(report) -> None:
    console.print(f"verify {report.target} (render #{report.render_id})")
    for shot in report.shots:
        matched = shot.frames - len(shot.mismatches)
        status = "[green]match[/]" if shot.ok else "[red]DIFFER[/]"
        span = f"  {shot.shot_path}: frames {shot.first_frame}–{shot.first_frame + shot.frames - 1}: "
        if shot.checkpoint_problem:
            console.print(span + "[red]not re-rendered[/]")
        else:
            console.print(span + f"{matched}/{shot.frames} identical {status}")
        for m in shot.mismatches:
            console.print(f"    frame {m.index}: recorded {m.recorded[:16]}… re-rendered {m.rendered[:16]}…")
        if shot.checkpoint_problem:
            console.print(f"    [red]not re-rendered: {shot.checkpoint_problem}[/]", highlight=False)
        if not shot.segment_matches:
            console.print("    encoded segment differs from the recorded one")
        if shot.damaged_in_store:
            console.print(f"    [yellow]stored copies of frames {shot.damaged_in_store} are missing or corrupt[/] "
                          "(the next render re-renders them)")
    if report.file_matches is not None:
        console.print("  file bytes: " + ("[green]identical to the recorded render[/]" if report.file_matches
                                          else "[red]differ from the recorded render[/]"))
    if report.rebuilt_matches_record is False:
        console.print("  [red]re-encoded output differs from the recorded output[/]")
    elif report.rebuilt_matches_record is None:
        console.print("  unsigned stream: not re-created (only part of the render was verified, or the store is "
                      "damaged)")
    else:
        console.print("  unsigned stream: [green]re-created byte for byte[/]")
        if report.mark_id:
            console.print(f"  invisible mark {report.mark_id} re-embedded", highlight=False)
    if report.credentials is not None:
        c = report.credentials
        console.print(f"  Content Credentials: {'[green]' if c.ok else '[red]'}{c.state}[/]", highlight=False)
        for code, explanation in c.failures:
            console.print(f"    {code}: {explanation}", highlight=False)
    if report.engine_changed:
        console.print("  [yellow]the engine's render code changed since this render[/]")
    if report.environment_differences:
        console.print("  environment fields that differ from the render's:")
        for name, before, now in report.environment_differences:
            console.print(f"    {name}: recorded {before!r}, now {now!r}", highlight=False)
    if not report.ok:
        console.print("[bold red]NOT VERIFIED[/]")
    elif not report.store_ok:
        console.print("[bold green]VERIFIED[/]: every byte matches; [bold red]STORE DAMAGED[/]: "
                      "render again to repair the store")
    else:
        console.print("[bold green]VERIFIED[/]: every byte matches")


if __name__ == "__main__":
    app()
