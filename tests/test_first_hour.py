"""A new user's first hour: `init NAME`, commands that find the production from the current folder,
a render summary whose hash repeats, `status` readable when piped, and the README's commands."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import cli, run_cli, small_spec, write_spec

README = Path(__file__).resolve().parents[1] / "README.md"
HOW = "run it in a production folder or pass PATH/production.json"


def unsigned_stream_hashes(output: str) -> list[str]:
    """The render summary's 'unsigned stream' column, one hash per episode."""
    header = next(line for line in output.splitlines() if "unsigned stream" in line and "episode" in line)
    column = [cell.strip() for cell in re.split(r"[│┃]", header)].index("unsigned stream")
    rows = [line for line in output.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in re.split(r"│", row)][column] for row in rows]


def test_init_names_the_production_after_NAME_and_it_validates_and_renders_from_its_folder(tmp_path: Path):
    said = run_cli("init", str(tmp_path / "Night Ferry")).stdout
    show = tmp_path / "Night Ferry"
    spec = json.loads((show / "production.json").read_text(encoding="utf-8"))
    assert spec["series"] == {"id": "night-ferry", "title": "Night Ferry"}
    assert "Harbor Lights" not in (show / "production.json").read_text(encoding="utf-8")
    assert "reelforge render" in said and "cd " in said
    code, output = cli("validate", cwd=show)
    assert code == 0 and "OK" in output

    code, first = cli("render", cwd=show)  # no path: the production is the current folder
    assert code == 0, first
    signed_first = hashlib.sha256((show / "renders" / "e01.mp4").read_bytes()).hexdigest()
    code, second = cli("render", cwd=show / "renders")  # from inside it: found in the folder above
    assert code == 0, second
    signed_second = hashlib.sha256((show / "renders" / "e01.mp4").read_bytes()).hexdigest()
    # The summary's hash is the one that repeats, and says so; the signed file's differs on every signing.
    assert signed_first != signed_second
    assert unsigned_stream_hashes(first) == unsigned_stream_hashes(second)
    (shown,) = unsigned_stream_hashes(first)
    assert re.fullmatch(r"[0-9a-f]{12}", shown) and shown not in signed_first + signed_second
    assert "unsigned stream: SHA-256 of the video before signing" in first
    assert "the signed file's own hash changes" in first


def test_init_refuses_a_folder_with_files_in_it_with_one_line(tmp_path: Path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine", encoding="utf-8")
    result = run_cli("init", str(tmp_path / "taken"), check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "already exists and is not empty" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]  # nothing written
    (tmp_path / "empty").mkdir()  # an empty folder is fine: `mkdir x && cd x && reelforge init .`
    code, _ = cli("init", ".", cwd=tmp_path / "empty")
    assert code == 0
    assert json.loads((tmp_path / "empty" / "production.json").read_text())["series"]["title"] == "empty"


def test_init_says_in_one_line_why_a_folder_cannot_be_made(tmp_path: Path, monkeypatch):
    (tmp_path / "afile").write_text("mine", encoding="utf-8")
    result = run_cli("init", str(tmp_path / "afile" / "sub"), check=False)  # as a user runs it: no exit 70
    assert result.returncode == 2 and result.stderr == (f"error: cannot create {tmp_path / 'afile' / 'sub'}: "
                                                        f"{tmp_path / 'afile'} is a file, not a folder: give a new "
                                                        "folder's name inside a folder\n")
    long_name = "a" * 300
    for name in (long_name, f"x/{long_name}/y"):
        code, output = cli("init", name, cwd=tmp_path)
        assert code == 2 and output.count("\n") == 1, output
        assert f"cannot create {name}: the name is too long" in output and "give a shorter name" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # x/, made on the way, is gone again

    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)  # a folder it may not write is in the way (exit 3), not bad input
    code, output = cli("init", "new-show", cwd=tmp_path)
    assert code == 3 and output.count("\n") == 1
    assert "cannot write new-show (Permission denied): make its folder writable" in output


def test_commands_find_the_production_from_a_folder_inside_it_and_say_how_outside(tmp_path: Path):
    show = write_spec(tmp_path / "show", small_spec(frames=2)).parent
    inside = show / "notes"
    inside.mkdir()
    code, output = cli("validate", cwd=inside)
    assert code == 0 and "OK" in output and "1 episode(s)" in output
    code, output = cli("render", "--dry-run", cwd=inside)
    assert code == 0 and "s01e01/sc01/sh01" in output
    code, output = cli("status", cwd=show)
    assert code == 0 and "never rendered" in output
    assert cli("render", cwd=inside)[0] == 0
    code, output = cli("review", "s01e01/sc01/sh01", "--status", "approved", "-m", "ok", cwd=inside)
    assert code == 0 and "approved" in output
    code, output = cli("assemble", cwd=inside)
    assert code == 0 and "nothing to assemble" in output

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (["validate"], ["render"], ["status"], ["energy"], ["commit", "-m", "why"], ["studio"],
                    ["store", "du"], ["log"], ["assemble"], ["review", "notes", "--json", "n.json"]):
        code, output = cli(*command, cwd=elsewhere)
        assert code == 2 and output.strip() == f"error: no production here: {HOW}", (command, output)
    for command in (["history", "shot:s01e01/sc01/sh01"], ["verify", "s01e01/sc01/sh01"], ["export", "otio", "s01e01"],
                    ["approve", "shot:s01e01/sc01/sh01", "-m", "ok"], ["review", "s01e01/sc01/sh01", "--status",
                                                                        "approved"],
                    ["review", "note", "s01e01/sc01/sh01", "--frame", "0", "-m", "flicker"]):
        code, output = cli(*command, cwd=elsewhere)
        assert code == 2 and output.count("\n") == 1, (command, output)
        assert "run it in a production folder or pass --production PATH/production.json" in output
    code, output = cli("validate", str(show), cwd=elsewhere)  # the folder names its production.json
    assert code == 0 and "OK" in output


def test_approve_and_review_take_the_production_as_the_readme_says_or_as_before(tmp_path: Path):
    show = write_spec(tmp_path / "show", small_spec(frames=2)).parent
    assert cli("render", cwd=show)[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shot = "s01e01/sc01/sh01"
    code, output = cli("approve", f"shot:{shot}", "--production", "../show/production.json", "-m", "lock",
                       cwd=elsewhere)
    assert code == 0 and f"approved shot:{shot}" in output, output
    code, output = cli("review", shot, "--production", "../show", "--status", "retake", "-m", "too dim", cwd=elsewhere)
    assert code == 0 and "retake" in output, output
    code, output = cli("review", "note", shot, "--production", "../show", "--frame", "1", "-m", "flicker",
                       cwd=elsewhere)
    assert code == 0 and f"on {shot} v1, frame 1" in output, output
    # The positional forms still work: approve ENTITY [SPEC], review [SPEC] SHOT.
    assert cli("approve", "episode:s01e01", "../show", "-m", "cut", cwd=elsewhere)[0] == 0
    code, output = cli("review", "../show", shot, "--status", "approved", cwd=elsewhere)
    assert code == 0 and "approved" in output, output
    code, output = cli("review", "note", "../show", shot, "--frame", "0", "-m", "ok now", cwd=elsewhere)
    assert code == 0 and "frame 0" in output, output
    code, output = cli("log", "../show", "--json", cwd=elsewhere)
    kinds = [entry["kind"] for entry in json.loads(output)]
    assert kinds.count("approval") == 2 and kinds.count("review") == 2 and kinds.count("note") == 2, kinds

    for command in (["approve", f"shot:{shot}", "../show", "--production", "../show", "-m", "lock"],
                    ["review", "../show", shot, "--production", "../show", "--status", "approved"],
                    ["review", "note", "../show", shot, "--production", "../show", "--frame", "0", "-m", "x"]):
        code, output = cli(*command, cwd=elsewhere)
        assert code == 2 and output == "error: give the production once: ../show or --production ../show, not " \
                                       "both\n", (command, output)


def test_review_note_help_shows_the_drawing_format():
    code, output = cli("review", "note", "--help")
    assert code == 0 and '"points": [[x, y], …]' in output


def test_status_piped_keeps_every_column_whole(tmp_path: Path):
    spec = small_spec(frames=2)
    long_id = "sh01-the-keeper-climbs-the-lighthouse-stairs-at-dusk"
    spec["episodes"][0]["scenes"][0]["shots"][0]["id"] = long_id
    path = write_spec(tmp_path / "show", spec)
    env = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    result = subprocess.run([sys.executable, "-m", "reelforge.cli", "status", str(path)], capture_output=True,
                            text=True, env={**env, "NO_COLOR": "1"})  # stdout is a pipe, not a terminal
    assert result.returncode == 0, result.stderr
    assert f"s01e01/sc01/{long_id}" in result.stdout and "never rendered" in result.stdout
    assert "…" not in result.stdout


def readme_commands() -> list[list[str]]:
    """Every `reelforge …` line of the README's fenced blocks before the farm section, as arguments."""
    text = README.read_text(encoding="utf-8").split("## Render on every machine")[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("reelforge "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


def test_the_readme_commands_parse():
    from reelforge.cli.render import with_farm_default

    commands = readme_commands()
    assert ["init", "my-show"] in commands and ["render"] in commands and len(commands) >= 8
    for args in commands:
        code, output = cli(*with_farm_default(args), "--help")  # the command and its options exist
        assert code == 0, (args, output)
    # A render with a model other than the spec's has a folder of its own: it never replaces renders/e01.mp4.
    overrides = [args for args in commands if args[0] == "render" and "--backend" in args]
    assert len(overrides) == 2, overrides
    for args in overrides:
        assert "--out" in args and args[args.index("--out") + 1].startswith("renders/"), args
