"""The contact sheet beside a render: one labelled still per shot, signed like every delivery."""

from __future__ import annotations

import io
import json
import sqlite3

import numpy as np
from conftest import run_cli

from reelforge.media.contact_sheet import COLUMNS, MARGIN, THUMB_WIDTH, Still, contact_sheet


def test_render_writes_a_signed_contact_sheet_of_every_shots_middle_frame(small_production):
    run_cli("render", str(small_production))
    sheet = small_production.parent / "renders" / "contact-sheet.png"
    assert run_cli("credentials", "verify", str(sheet)).returncode == 0
    shown = json.loads(run_cli("credentials", "show", str(sheet), "--json").stdout)
    with sqlite3.connect(small_production.parent / ".reelforge" / "catalog.sqlite") as db:
        rows = db.execute("SELECT shot_path, frame_hashes_json FROM render_shots ORDER BY render_id, position").fetchall()
    expected = [{"shot": path, "frame_sha256": json.loads(hashes)[len(json.loads(hashes)) // 2]} for path, hashes in rows]
    text = json.dumps(shown)
    for still in expected:  # the credentials name each still's shot and the exact stored frame it shows
        assert still["shot"] in text and still["frame_sha256"] in text

    from PIL import Image

    image = Image.open(io.BytesIO(sheet.read_bytes()))
    columns = min(COLUMNS, len(rows))
    assert image.size[0] == MARGIN + columns * (THUMB_WIDTH + MARGIN)


def test_sheet_bytes_are_a_pure_function_of_stills_and_labels():
    rng = np.random.default_rng(7)
    stills = [Still(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8), (f"s01e01/sc01/sh0{i}", "push-in", "gray-box"))
              for i in range(5)]

    def png(items) -> bytes:
        out = io.BytesIO()
        contact_sheet(items).save(out, format="PNG")
        return out.getvalue()

    assert png(stills) == png(stills)
    relabelled = stills[:4] + [Still(stills[4].frame, ("s01e01/sc01/sh04", "orbit", "gray-box"))]
    assert png(relabelled) != png(stills)
    image = contact_sheet(stills)
    one_row = contact_sheet(stills[:1])
    assert image.size[1] > one_row.size[1]  # five stills wrap onto a second row


def test_a_long_label_is_cut_to_its_cell():
    frame = np.zeros((90, 160, 3), dtype=np.uint8)
    neighbour = Still(frame, ("s01e01/sc01/sh02", "", ""))

    def second_cell(first_label: str) -> np.ndarray:
        sheet = np.asarray(contact_sheet([Still(frame, (first_label, "", "")), neighbour]))
        return sheet[:, MARGIN + THUMB_WIDTH + MARGIN // 2:]  # everything right of the first cell

    # A label far wider than the cell is cut with an ellipsis: nothing spills into the next cell.
    assert np.array_equal(second_cell("W" * 300), second_cell("W"))


def test_a_partial_render_gets_its_own_sheet_and_verify_points_a_sheet_to_credentials(small_production):
    run_cli("render", str(small_production), "--episode", "s01e01")
    renders = small_production.parent / "renders"
    assert (renders / "contact-sheet.s01e01.png").is_file() and not (renders / "contact-sheet.png").exists()
    result = run_cli("verify", str(renders / "contact-sheet.s01e01.png"), check=False)
    assert result.returncode == 2 and "credentials verify" in result.stderr
