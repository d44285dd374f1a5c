"""`reelforge credentials | watermark | trace`: Content Credentials, the visible watermark, leak tracing; and
checking a signed frame sequence folder (`reelforge verify FOLDER`, `reelforge credentials verify FOLDER`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from reelforge.app.checked_records import find_marked
from reelforge.app.render_request import RENDER_INPUT_ERRORS
from reelforge.app.verify_sequence import NotASequence, SequenceReport, production_id, verify_sequence
from reelforge.cli.console import console, errors, fail, find_production, load_or_exit, production_option, shown
from reelforge.deliver.options import DeliveryError, signing_identity
from reelforge.media.watermark import WatermarkError, WatermarkSpec, apply_watermark
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.trust.anchors import find_anchor, production_anchor
from reelforge.trust.credentials import (
    format_credentials,
    manifest_failures,
    read_credentials,
    sign_file,
    summarize,
    verify_credentials,
)
from reelforge.trust.identity import CredentialsError, load_anchor
from reelforge.trust.trace import NotAVideo, trace_file

app = typer.Typer()
credentials_app = typer.Typer(help="Content Credentials (C2PA) of delivered files.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")


def _say(text: str, markup: bool = True) -> None:
    """Credentials output: names and paths printed as given (no highlighting, never wrapped)."""
    console.print(text, markup=markup, highlight=False, soft_wrap=True)


@credentials_app.command("show")
def credentials_show(file: Annotated[Path, typer.Argument(help="a signed MP4, MOV or PNG")],
                     as_json: Annotated[bool, typer.Option("--json", help="the manifest as JSON")] = False) -> None:
    """Print a file's Content Credentials readably (exit 1 if it has none)."""
    try:
        store = read_credentials(file)
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    if store is None:
        if as_json:
            typer.echo("null")
        else:
            _say(f"{escape(str(file))}: no Content Credentials")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(store, indent=2, ensure_ascii=False))
    else:
        _say(format_credentials(summarize(store), manifest_failures(store)), markup=False)
    raise typer.Exit(0)


@credentials_app.command("verify")
def credentials_verify(
    file: Annotated[Path, typer.Argument(help="a signed MP4, MOV or PNG, or a frame sequence folder")],
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM (default: the production's root)")] = None,
    production_identity: Annotated[Path | None, typer.Option(help="a production's identity folder")] = None,
) -> None:
    """Exit 0 only if the signature is valid, the media hash matches and the chain leads to the anchor (a frame
    sequence folder: its signed manifest and every file's hash; `reelforge verify FOLDER` also compares pixels)."""
    if Path(file).is_dir():
        _sequence_credentials(Path(file), trust, production_identity)
    try:
        if Path(file).is_file() and read_credentials(Path(file)) is None:  # unsigned: no anchor needed to say so
            _say(f"[bold red]failed[/] {escape(str(file))}: no Content Credentials (unsigned)")
            raise typer.Exit(1)
        anchor_path = find_anchor(Path(file), trust, production_identity)
        result = verify_credentials(file, load_anchor(anchor_path))
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    name = escape(str(file))
    if result.ok:
        summary = result.summary or {}
        _say(f"[bold green]ok[/] {name}: {result.state}, signed by {escape(str(summary.get('signer')))} "
             f"(anchor {escape(str(anchor_path))})")
        raise typer.Exit(0)
    if result.state == "unsigned":
        _say(f"[bold red]failed[/] {name}: no Content Credentials (unsigned)")
        raise typer.Exit(1)
    _say(f"[bold red]failed[/] {name}: {result.state} (anchor {escape(str(anchor_path))})")
    for code, explanation in result.failures:
        _say(f"  {escape(code)}: {escape(explanation)}")
    if result.summary and any(code == "signingCredential.untrusted" for code, _ in result.failures):
        _say(f"  signed by {escape(str(result.summary.get('signer')))}, issued by "
             f"{escape(str(result.summary.get('issuer')))}: not under this trust anchor")
    raise typer.Exit(1)


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
    if production is None:
        _burn(src, dst, text=text, logo=logo, position=position, opacity=opacity)
        console.print(f"marked {dst} (sha256 {file_sha256(dst)})", highlight=False, markup=False, soft_wrap=True)
        return
    if dst.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise fail(f"{dst}: a signed output must be .mp4, .m4v or .mov")
    try:  # resolve the identity first: a signing problem must not leave an unsigned file at DST
        identity = signing_identity(load_or_exit(production), ProductionPaths.for_spec(production).root)
    except DeliveryError as exc:
        raise fail(str(exc)) from None
    unsigned = dst.with_name(f".{dst.name}.tmp-unsigned{dst.suffix}")
    try:
        _burn(src, unsigned, text=text, logo=logo, position=position, opacity=opacity)
        source_state = _source_credentials(src)
        # SRC is footage reelforge opened, not generated: c2pa.opened + c2pa.edited, SRC (and its own
        # credentials, if it is a signed render) kept as the parent ingredient
        sign_file(unsigned, dst, identity, assertion={"generator": "reelforge watermark", "source": src.name,
                                                      "source_sha256": file_sha256(src), "watermark_text": text,
                                                      "source_credentials": source_state},
                  title=dst.name, parent=src, edit=f"visible watermark burned in ({position}, opacity {opacity:g})")
    except RENDER_INPUT_ERRORS as exc:
        raise fail(str(exc)) from None
    finally:
        unsigned.unlink(missing_ok=True)
    console.print(f"signed {dst}", highlight=False)


def _source_credentials(src: Path) -> str | None:
    """SRC's own credentials state (None: it has none), said aloud when they do not validate.

    The copy keeps them inside its parent ingredient as they are; a reader must not take a broken
    parent's claims for good ones, so the state is recorded in the copy's own assertion too.
    """
    try:
        store = read_credentials(src)
    except CredentialsError:  # not a format Content Credentials live in
        return None
    if store is None:
        return None
    failures = manifest_failures(store)
    if failures:
        errors.print(f"warning: {src}'s own Content Credentials do not validate "
                     f"({', '.join(code for code, _ in failures)}); the signed copy records them as they are",
                     markup=False, highlight=False, soft_wrap=True)
    return store.get("validation_state")


def _burn(src: Path, dst: Path, *, text: str, logo: Path | None, position: str, opacity: float) -> None:
    """Burn the visible mark in by the documented recipe; exit 2 with one line for a bad option or input."""
    try:
        spec = WatermarkSpec(text=text, logo=logo, position=position, opacity=opacity)  # type: ignore[arg-type]
        apply_watermark(src, dst, spec)
    except WatermarkError as exc:
        raise fail(str(exc)) from None


@app.command()
def trace(
    file: Annotated[Path, typer.Argument(help="a suspect copy (re-encoded, scaled, cropped or trimmed is fine)")],
    production: Annotated[Path | None, typer.Option(help="production.json whose renders to search "
                                                         "(found from the file's folder if omitted)")] = None,
) -> None:
    """Read a copy's invisible mark and name the render it came from (exit 1: no mark, or not one of ours)."""
    if not file.is_file():
        raise fail(f"{file}: no such file")
    paths = production_option(production, "to search", near=file)
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    try:
        found = trace_file(file, paths, find_marked)
    except NotAVideo as exc:  # an undecodable file is bad input, not a crash
        raise fail(f"{file}: cannot read it as video ({exc.detail})") from None
    except CredentialsError as exc:  # the production's mark key cannot be read
        raise fail(str(exc)) from None
    if not found.mark.found:
        console.print(f"no mark found in {file}", highlight=False)
        raise typer.Exit(1)
    if found.tampered:
        console.print(f"TAMPERED: {found.tampered} (mark {found.mark_hex}): no answer from altered records",
                      highlight=False, markup=False)
        raise typer.Exit(1)
    if not found.traced:
        console.print(f"mark {found.mark_hex} found, but no render of {paths.root} carries it", highlight=False)
        raise typer.Exit(1)
    render_record, delivery, result = found.render, found.delivery, found.mark
    console.print(f"mark {result.mark_id:016x}: render #{render_record.id} of {paths.root.name}, "
                  f"{render_record.kind} {render_record.episode_id}, rendered {render_record.started_at} "
                  f"by {delivery.rendered_by}, delivered as {render_record.output_path}", highlight=False)
    if found.note:
        console.print(f"  records: {found.note}", highlight=False, markup=False)


# --- frame sequences (render --frames-out) ---------------------------------------------------------

MAX_PROBLEM_LINES = 20


def say_sequences(sequences) -> None:
    """'wrote renders/s01e01.exr/ (24 frames of 3 shots, signed manifest)' per sequence a render wrote."""
    for sequence in sequences:
        signed = "signed manifest" if sequence.signed else "manifest UNSIGNED"
        shots = f"{sequence.shots} shot{'s' if sequence.shots != 1 else ''}"
        _say(f"wrote {escape(shown(sequence.folder))}/ ({sequence.frames} frames of {shots}, {signed})")


def verify_sequence_folder(folder: Path, production: Path | None, frames: str | None = None) -> NoReturn:
    """`reelforge verify FOLDER`: signature against the production's anchor, files, pixels against its store."""
    if frames:
        raise fail("--frames is for a shot; a frame sequence folder is checked whole")
    paths = production_option(production, "signed it") if production is not None else find_production(folder)
    if paths is None:
        raise fail(f"{folder}: cannot tell which production signed it: pass --production PATH/production.json, or "
                   f"check its signature alone with `reelforge credentials verify {folder} --trust ROOT.pem`")
    anchor = production_anchor(paths)
    if anchor is None:
        raise fail(f"{paths.root} has no signing identity (no trust anchor to check a signature against)")
    store = ShotStore.of(paths) if paths.frames.is_dir() else None
    _check_sequence(folder, anchor, store, f"{paths.root} has no frame store", production_id(paths.spec))


def _sequence_credentials(folder: Path, trust: Path | None, production_identity: Path | None) -> NoReturn:
    """`reelforge credentials verify FOLDER`: the signed manifest and the files, against --trust or the production's."""
    if trust is None and production_identity is None:
        paths = find_production(folder)
        anchor = production_anchor(paths) if paths is not None else None
        if anchor is None:
            raise fail(f"{folder}: no trust anchor: give --trust ROOT.pem or --production-identity FOLDER")
    else:
        try:
            anchor = find_anchor(folder, trust, production_identity)
        except CredentialsError as exc:
            raise fail(str(exc)) from None
    _check_sequence(folder, anchor, None, "a signature check; `reelforge verify FOLDER` compares them with the "
                    "production's store")


def _check_sequence(folder: Path, anchor: Path, store: ShotStore | None, no_store: str,
                    production: str | None = None) -> NoReturn:
    try:
        report = verify_sequence(folder, load_anchor(anchor), store, production)
    except (NotASequence, CredentialsError) as exc:
        raise fail(str(exc)) from None
    _say(f"verify {escape(str(folder))}" + (f": {escape(report.summary)}" if report.manifest else ""))
    if report.signer:
        _say(f"  signature: [green]valid[/], by {escape(report.signer)} at {report.at} (anchor {escape(str(anchor))})")
    if report.manifest is not None:
        _say(f"  files: {report.files_ok}/{report.frames} with their signed SHA-256")
        _say("  pixels: " + (_pixels_line(report) if store is not None else f"not compared ({no_store})"),
             markup=False)
    for problem in report.problems[:MAX_PROBLEM_LINES]:
        _say(f"  [red]FAILED[/]: {escape(problem)}")
    if len(report.problems) > MAX_PROBLEM_LINES:
        _say(f"  … and {len(report.problems) - MAX_PROBLEM_LINES} more", markup=False)
    if not report.ok:
        _say(f"[bold red]NOT VERIFIED[/]: {len(report.problems)} problem(s)")
        raise typer.Exit(1)
    _say("[bold green]VERIFIED[/]: " + escape(_verified_line(report, store, no_store)))
    raise typer.Exit(0)


def _verified_line(report: SequenceReport, store: ShotStore | None, no_store: str) -> str:
    """What was proven: the signature and files always; the pixels only as far as the store still holds frames."""
    said = "signed by the production, every file as signed"
    if report.pixels_checked == report.frames:
        return said + ", every frame the stored one"
    if store is None:
        return f"{said}; pixels not compared ({no_store})"
    if report.pixels_checked == 0:
        return f"{said}; pixels not compared: the store no longer holds these frames"
    return (f"{said}; {report.pixels_checked} of {report.frames} frames compared with the store (it no longer holds "
            "the others)")


def _pixels_line(report: SequenceReport) -> str:
    line = f"{report.pixels_checked} frame(s) decode to exactly their stored frame"
    if report.not_in_store:
        line += f"; {report.not_in_store} no longer in the store (not compared)"
    if report.damaged_in_store:
        line += f"; the store's copies of {report.damaged_in_store} are damaged (not compared; render again)"
    return line
