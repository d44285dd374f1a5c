"""A new user's first hour: `init NAME`, commands that find the production from the current folder,
a render summary whose hash repeats, `status` readable when piped, and the README's commands."""

from __future__ import annotations

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
                    ["store", "du"], ["log"], ["approve", "shot:s01e01/sc01/sh01", "-m", "ok"], ["assemble"],
                    ["review", "s01e01/sc01/sh01", "--status", "approved"], ["review", "notes", "--json", "n.json"]):
        code, output = cli(*command, cwd=elsewhere)
        assert code == 2 and output.strip() == f"error: no production here: {HOW}", (command, output)
    for command in (["history", "shot:s01e01/sc01/sh01"], ["verify", "s01e01/sc01/sh01"], ["export", "otio", "s01e01"]):
        code, output = cli(*command, cwd=elsewhere)
        assert code == 2 and output.count("\n") == 1, (command, output)
        assert "run it in a production folder or pass --production PATH/production.json" in output
    code, output = cli("validate", str(show), cwd=elsewhere)  # the folder names its production.json
    assert code == 0 and "OK" in output


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
