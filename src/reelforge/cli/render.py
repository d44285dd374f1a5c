"""`reelforge render | assemble | verify | status`: render a production, re-assemble an outdated cut, prove a delivery,
see what is up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from reelforge.app.reassemble import assembly_request
from reelforge.app.render_plan import RenderPlan, plan_render
from reelforge.app.render_request import (
    RENDER_INPUT_ERRORS,
    RenderRefused,
    RenderRequest,
    check_takes,
    render_production,
)
from reelforge.app.status import CHANGED, LABELS, UP_TO_DATE, production_status
from reelforge.app.store_budget import store_against_budget
from reelforge.app.verify import verify_render
from reelforge.cli.console import (
    SpecArgument,
    console,
    fail,
    parse_range,
    print_warnings,
    production_option,
    progress_bar,
    refused,
    shown,
    spec_file,
)
from reelforge.cli.trust import say_sequences, verify_sequence_folder
from reelforge.engine.pipeline import RenderResult
from reelforge.engine.shot import FrameRepair
from reelforge.farm.options import LOCAL, FarmOptions
from reelforge.plan.jobs import ShotJob
from reelforge.plan.takes import MAX_TAKES, take_number
from reelforge.spec.delivery import FORMATS
from reelforge.spec.model import BACKENDS
from reelforge.store.catalog import Catalog
from reelforge.store.hashing import file_sha256

app = typer.Typer()

UNSIGNED_STREAM_NOTE = ("unsigned stream: SHA-256 of the video before signing, the same on every render of the same "
                        "spec (`reelforge verify FILE` re-creates it); the signed file's own hash changes with every "
                        "signature")


@app.command()
def render(
    spec: SpecArgument = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default: renders/ beside the spec)")] = None,
    episode: Annotated[list[str] | None, typer.Option(help="render only this episode (repeatable)")] = None,
    shot: Annotated[str | None, typer.Option(help="one shot, e.g. s01e01/sc01/sh03")] = None,
    frames: Annotated[str | None, typer.Option(help="with --shot: frame range START:END (end exclusive)")] = None,
    backend: Annotated[str | None, typer.Option(help=f"{', '.join(BACKENDS[:-1])} or {BACKENDS[-1]} "
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
    languages: Annotated[str | None, typer.Option(help="also deliver these languages, e.g. en,fr,ja: per language "
                                                       "EPISODE.LANG.mp4 or .mov (the same picture with subtitles, titles "
                                                       "and chapters as text) and .vtt/.srt files")] = None,
    burn_titles: Annotated[bool, typer.Option("--burn-titles", help="with --languages: also EPISODE.LANG.burned.mp4 (or .mov), "
                                                                    "the titles drawn into the picture (re-encoded)")]
    = False,
    farm: Annotated[str | None, typer.Option(help="render the shots on a Ray farm: --farm alone starts one on this "
                                                  "machine; --farm auto or HOST:PORT joins the cluster this machine "
                                                  "is a node of; ray://HOST:PORT through Ray Client (docs/farm.md)")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print which shots would render (and where, with "
                                                            "--farm) and which the store already has; render "
                                                            "nothing")] = False,
    takes: Annotated[int | None, typer.Option(help=f"with --shot: render takes 1..N of the shot (N up to "
                                                   f"{MAX_TAKES}), each with a seed of its own, to "
                                                   "renders/takes/EPISODE/SCENE/SHOT/take-K.mp4; pick one with "
                                                   "\"take\": K in the shot's spec")] = None,
    frames_out: Annotated[str | None, typer.Option(help="also a numbered frame sequence beside each video, with a "
                                                        "signed manifest: png (16-bit), exr (half float) or "
                                                        "exr-float; `reelforge verify FOLDER` checks it")] = None,
    delivery: Annotated[str | None, typer.Option(help="only this delivery: main (the spec's \"delivery\") or a name "
                                                      "from \"deliveries\" (default: main, then every named one, each "
                                                      "to renders/NAME/; --shot, --frames and --takes: main)")] = None,
) -> None:
    """Render episodes as the spec's deliveries ask (H.264 or HEVC MP4, ProRes or DNxHR MOV; 16:9, 9:16 or 1:1), or a
    frame range of one shot, signed with Content Credentials."""
    spec = spec_file(spec)
    try:
        if frames and not shot:
            raise RenderRefused("--frames needs --shot")
        request = RenderRequest(spec=spec, episodes=list(episode or []), shot=shot,
                                frames=parse_range(frames) if frames else None, out=out, backend=backend,
                                checkpoint=checkpoint, device=device, threads=threads, mark=mark, actor=actor,
                                languages=languages, burn_titles=burn_titles,
                                farm=FarmOptions(farm) if farm else None, takes=_takes(takes, dry_run),
                                frames_out=frames_out, delivery=delivery)
        check_takes(request)  # before the spec is read: a wrong option is said first
        if dry_run:
            _print_plan(plan_render(request))
            return
        with progress_bar() as bar:
            tasks: dict[str, int] = {}

            def begin(task: str, label: str, total: int) -> None:
                tasks[task] = bar.add_task(label, total=total)

            def advance(shot_job: ShotJob, n: int) -> None:
                take = f" take {shot_job.take}" if shot_job.take else ""
                bar.update(tasks[shot_job.episode_id], advance=n,
                           description=f"{shot_job.episode_id} {shot_job.shot_path}{take}")

            outcome = render_production(request, start=begin, progress=advance,
                                        announce=lambda text: console.print(text, highlight=False, markup=False,
                                                                            soft_wrap=True),
                                        warn=lambda found: print_warnings(spec, found),
                                        farm_watch=_farm_display(bar))
    except RenderRefused as exc:
        raise refused(exc) from None
    if request.takes:
        _print_takes(outcome)
    else:
        _summary(outcome.results)
    if outcome.job is not None and not request.takes:
        console.print(outcome.range_report, style=None if outcome.range_matches else "red", highlight=False)
    elif outcome.job is None:
        console.print(f"contact sheet: {outcome.contact_sheet}", highlight=False)
    if outcome.mark_id is not None:
        console.print(f"invisible mark {outcome.mark_id:016x} recorded for {outcome.actor}", highlight=False)
    say_sequences(outcome.sequences)
    if outcome.budget_note is not None:
        console.print(outcome.budget_note, style="yellow", highlight=False, markup=False, soft_wrap=True)
    if not outcome.range_matches:
        raise typer.Exit(1)


def _takes(count: int | None, dry_run: bool) -> tuple[int, ...]:
    """--takes N as the take numbers 1..N; RenderRefused for a count out of bounds."""
    if count is None:
        return ()
    if not 1 <= count <= MAX_TAKES:
        raise RenderRefused(f"--takes must be 1 to {MAX_TAKES}, got {count}")
    if dry_run:
        raise RenderRefused("--dry-run does not plan takes; leave out one or the other")
    return tuple(range(1, count + 1))


def _print_takes(outcome) -> None:
    """One row per take: its seed, whether the store had it, its file; the take the spec uses marked."""
    chosen = take_number(outcome.job.take)
    table = Table(title=f"takes of {outcome.job.shot_path}", title_justify="left")
    table.add_column("take", no_wrap=True)
    table.add_column("seed", no_wrap=True)
    table.add_column("frames", no_wrap=True)
    table.add_column("file", overflow="fold")
    for result in outcome.results:
        shot = result.shots[0]
        number = take_number(shot.job.take)
        table.add_row(f"{number}{' (the spec’s)' if number == chosen else ''}", str(shot.job.seed),
                      f"{len(shot.frame_hashes)} {'from the store' if shot.reused else 'rendered'}",
                      shown(result.output))
    console.print(table)
    first = outcome.results[0].shots[0].frame_hashes
    alike = [str(take_number(r.shots[0].job.take)) for r in outcome.results[1:] if r.shots[0].frame_hashes == first]
    if alike:
        console.print(f"take {', '.join(alike)} {'has' if len(alike) == 1 else 'have'} the same frames as take 1: "
                      f"nothing in this shot draws from its seed (on previz only film grain, a style's textures "
                      f"and a handheld camera do)", style="yellow", highlight=False, soft_wrap=True)
    console.print(f"pick a take: set \"take\": K on {outcome.job.shot_path} in the spec (or Pick in the studio)",
                  highlight=False, markup=False, soft_wrap=True)


def with_farm_default(args: list[str]) -> list[str]:
    """`--farm` given without an address means this machine: `--farm local`.

    typer has no option with an optional value, so the command line is completed before it
    parses it: `--farm` followed by nothing or by something that is no farm address (an option,
    the spec) gets `local` inserted.
    """
    completed = list(args)
    for i, arg in enumerate(completed):
        if arg == "--farm" and (i + 1 == len(completed) or not _is_farm_address(completed[i + 1])):
            completed.insert(i + 1, LOCAL)
            break
    return completed


def _is_farm_address(text: str) -> bool:
    return text in (LOCAL, "auto") or text.startswith("ray://") or ":" in text


def _farm_display(bar):
    """Per-node rows (units running and done, frames rendered there) under the episodes', and each retry printed."""
    rows: dict[str, int] = {}
    said = 0

    def show(status) -> None:
        nonlocal said
        for node, activity in status.nodes.items():
            text = f"  node {node}: {activity.running} running, {activity.units_done} done"
            if node not in rows:
                rows[node] = bar.add_task(text, total=None)
            bar.update(rows[node], description=text, completed=activity.frames)
        for note in status.notes[said:]:
            bar.console.print(f"[yellow]farm:[/] {escape(note)}", highlight=False, soft_wrap=True)
        said = len(status.notes)

    return show


def _print_plan(plan: RenderPlan) -> None:
    if plan.nodes:
        table = Table(title=f"farm {plan.farm}", title_justify="left")
        for column in ("node", "address", "CPUs", "GPUs"):
            table.add_column(column, no_wrap=True)
        for node in plan.nodes:
            table.add_row(node.host, node.address, f"{node.cpus:g}", f"{node.gpus:g}")
        console.print(table)
    table = Table(title="render plan (nothing rendered)", title_justify="left")
    for column in ("shot", "frames", "what happens"):
        table.add_column(column, no_wrap=column != "what happens")
    for shot in plan.shots:
        table.add_row(shot.shot_path, str(shot.frames), shot.action)
    console.print(table)
    console.print(plan.summary, highlight=False)
    if plan.budget_warning is not None:
        console.print(plan.budget_warning, highlight=False, markup=False, soft_wrap=True)


def _summary(results: list[RenderResult]) -> None:
    """Per delivery: shots rendered and reused, and the hash that repeats — of the unsigned stream, not the file.

    A signed MP4's own SHA-256 changes on every signing (fresh ids and nonces); showing it would
    make every render look different. The unsigned stream's is what a re-render reproduces.
    """
    table = Table(title="render summary", title_justify="left")
    for column in ("episode", "shots rendered", "shots reused", "frames", "seconds", "unsigned stream", "delivery"):
        table.add_column(column, no_wrap=True)
    for r in results:
        table.add_row(r.episode_id, str(len(r.shots) - r.shots_reused), str(r.shots_reused), str(r.frames),
                      f"{r.seconds:.1f}", r.unsigned_sha256[:12], _delivery_text(r))
    console.print(table)
    console.print(UNSIGNED_STREAM_NOTE, highlight=False, markup=False, soft_wrap=True)
    for repair in (shot.repaired for r in results for shot in r.shots if shot.repaired is not None):
        console.print(f"[yellow]{_repair_text(repair)}[/]", highlight=False, soft_wrap=True)
    for r in results:
        console.print(f"wrote {shown(r.output)}", highlight=False, soft_wrap=True)
        for language in r.languages:
            extra = "" if language.output.stem.endswith(".burned") else " (and .vtt, .srt)"
            console.print(f"wrote {shown(language.output)}{extra}", highlight=False, soft_wrap=True)


def _delivery_text(result: RenderResult) -> str:
    """'vertical: H.264 1080×1920 8-bit 4:2:0'."""
    encode = result.encode
    if encode is None:
        return result.delivery
    return (f"{result.delivery}: {FORMATS[encode.format].label} {encode.width}×{encode.height} {encode.bit_depth}-bit "
            f"{encode.chroma}")


def _repair_text(repair: FrameRepair) -> str:
    """'3 stored frames of s01e01/sc01/sh02 were damaged (hash mismatch): re-rendered'."""
    why = [f"{count} {reason}" if count != repair.frames else reason
           for count, reason in ((repair.mismatched, "hash mismatch"), (repair.missing, "missing")) if count]
    frames, were = ("frame", "was") if repair.frames == 1 else ("frames", "were")
    return f"{repair.frames} stored {frames} of {repair.shot_path} {were} damaged ({', '.join(why)}): re-rendered"


@app.command()
def assemble(
    spec: SpecArgument = None,
    episode: Annotated[list[str] | None, typer.Option(help="this episode (repeatable; default: every episode whose "
                                                           "cut is outdated)")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default: renders/ beside the spec)")] = None,
    actor: Annotated[str | None, typer.Option(help="who is assembling, for the records (default: "
                                                   "$REELFORGE_ACTOR or your login)")] = None,
) -> None:
    """Re-assemble episodes whose cut is outdated from the stored shots: stream copy, seconds, nothing rendered
    (after a change of the delivery's encode settings, the stored frames are encoded again).

    The file equals what `reelforge render --episode E` would deliver now (and is signed and recorded
    like it); refused, naming the shots, when a shot's current version has not been rendered yet.
    """
    spec = spec_file(spec)
    try:
        status = production_status(spec)
        known = {e.id: e for e in status.episodes}
        unknown = [e for e in episode or [] if e not in known]
        if unknown:
            raise RenderRefused(f"unknown episode {', '.join(unknown)}; episodes: {', '.join(known)}")
        chosen = [known[e] for e in dict.fromkeys(episode)] if episode else \
            [e for e in status.episodes if not e.cut.up_to_date]
        results = []
        for item in chosen:
            if item.cut.up_to_date:
                console.print(f"{item.id}: {item.cut.label} (render #{item.cut.render_id}); nothing to assemble",
                              highlight=False)
                continue
            outcome = render_production(assembly_request(spec, item.id, actor, out),
                                        warn=lambda found: print_warnings(spec, found))
            results += outcome.results
    except RenderRefused as exc:
        raise refused(exc) from None
    if not chosen:
        console.print("every episode's cut is up to date; nothing to assemble", highlight=False)
    if results:
        _summary(results)


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="a rendered MP4 or MOV, a shot path like s01e01/sc01/sh03, or a "
                                               "frame sequence folder")],
    production: Annotated[Path | None, typer.Option(help="production.json (found from the file's folder if omitted)")] = None,
    frames: Annotated[str | None, typer.Option(help="only this frame range START:END of the shot(s)")] = None,
) -> None:
    """Re-render from the recorded jobs and prove the bytes match (exit 1 if not); a frame sequence folder
    (`render --frames-out`): its signature, files and pixels."""
    if Path(target).is_dir():
        verify_sequence_folder(Path(target), production, frames)
    if target.lower().endswith(".png"):
        raise fail(f"{target} is a still (a contact sheet): check it with `reelforge credentials verify {target}`; "
                   "its stills are frames of the episodes, which `reelforge verify EPISODE.mp4` proves")
    file = Path(target) if target.lower().endswith((".mp4", ".mov")) else None
    if file is not None and not file.is_file():
        raise fail(f"{file}: no such file" if not file.exists() else f"{file} is not a file")
    paths = production_option(production, "this belongs to", near=file)
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    shot_paths = None
    with Catalog(paths.catalog) as catalog:
        catalog.check()  # SQLite keeps no checksums: a damaged page is said (exit 3) before a record is trusted
        if file is not None:
            record = catalog.render_for_file(file_sha256(file)) or catalog.render_for_path(str(file.resolve()))
            if record is None:
                raise fail(f"{file} is not a render recorded in {paths.root}", code=1)
        else:
            record = catalog.render_with_shot(target)
            if record is None:
                raise fail(f"no recorded render contains shot '{target}'")
            shot_paths = {target}
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
        try:
            report = verify_render(paths, record, target, file, shot_paths, frame_range,
                                   progress=lambda job, n: bar.update(task, advance=n, description=job.shot_path))
        except RENDER_INPUT_ERRORS as exc:
            raise fail(str(exc)) from None
    _print_report(report)
    raise typer.Exit(0 if report.ok and report.store_ok else 1)


def _print_report(report) -> None:
    console.print(f"verify {report.target} (render #{report.render_id})")
    if report.tampered:
        console.print(f"[bold red]TAMPERED[/]: {escape(report.tampered)}: nothing verified from altered records",
                      highlight=False)
        return
    if report.records_note:
        console.print(f"  records: {report.records_note}", highlight=False, markup=False)
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
        if shot.absent_from_store:
            console.print(f"    {shot.absent_from_store} of its frames are not in the store (removed by `reelforge "
                          "store gc`, or lost): re-rendered here, and by the next render that needs them")
        if shot.damaged_in_store:
            console.print(f"    [yellow]stored copies of frames {shot.damaged_in_store} are corrupt[/] "
                          "(the next render re-renders them)")
    if report.file_matches is not None:
        console.print("  file bytes: " + ("[green]identical to the recorded render[/]" if report.file_matches
                                          else "[red]differ from the recorded render[/]"))
    if report.rebuilt_matches_record is False:
        console.print("  [red]re-encoded output differs from the recorded output[/]")
    elif report.rebuilt_matches_record is None:
        console.print("  unsigned stream: not re-created (only part of the render was verified)")
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


@app.command("status")
def status_command(spec: SpecArgument = None) -> None:
    """Each shot's status (never rendered, up to date, spec changed) and each episode's cut (up to date, outdated)."""
    spec = spec_file(spec)
    try:
        status = production_status(spec)
    except RenderRefused as exc:
        raise refused(exc) from None
    colours = {UP_TO_DATE: "green", CHANGED: "yellow"}
    table = Table(title=status.title, title_justify="left")
    for column in ("shot", "status", "cast", "frames", "seconds", "last render", "what changed"):
        table.add_column(column, no_wrap=column in ("shot", "status"))
    for shot in status.shots():
        last = shot.last_render
        colour = colours.get(shot.state, "dim")
        table.add_row(shot.path, f"[{colour}]{shot.label}[/]", ", ".join(c.name for c in shot.cast) or "-",
                      str(shot.frames), f"{shot.seconds:.2f}",
                      (f"#{last.render_id} {last.finished_at}" + (f" [bold red]TAMPERED[/]: {escape(last.tampered)}"
                                                                   if last.tampered else "")) if last else "-",
                      ", ".join(shot.changed_fields))
    console.print(table)
    console.print(", ".join(f"{count} {LABELS[state]}" for state, count in status.counts.items()), highlight=False)
    for episode in status.episodes:  # a shot up to date says nothing of an episode file holding an older version
        console.print(cut_line(spec, episode.cut), highlight=False, markup=False, soft_wrap=True)
    usage = store_against_budget(spec, status.store)
    console.print(usage.line, style="yellow" if usage.over else None, highlight=False, markup=False)
    tampered = sorted({shot.last_render.render_id for shot in status.shots()
                       if shot.last_render is not None and shot.last_render.tampered})
    if tampered:  # the statuses above come from rows that disagree with the log: a failed check
        console.print(f"[bold red]TAMPERED[/]: render {', '.join(f'#{n}' for n in tampered)}: its records disagree "
                      "with the change log (`reelforge log verify` lists every problem)", highlight=False)
        raise typer.Exit(1)


def cut_line(spec: Path, cut) -> str:
    """'s01e01: cut outdated (render #4): 1 shot re-rendered since the cut — `reelforge assemble …`'."""
    if cut.up_to_date:
        return f"{cut.episode_id}: {cut.label} (render #{cut.render_id})"
    made = f" (render #{cut.render_id})" if cut.render_id is not None else ""
    if cut.can_assemble:
        fix = f"reelforge assemble {spec} --episode {cut.episode_id}"
    else:
        fix = f"reelforge render {spec} --episode {cut.episode_id}"
    return f"{cut.episode_id}: {cut.label}{made}: {cut.reason} — `{fix}`"
