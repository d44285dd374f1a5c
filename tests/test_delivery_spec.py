"""The delivery spec: shapes, sizes, formats with their bit depths and chroma, named extra deliveries.

`reelforge validate` names the JSON path of each problem in one line and exits 2; a look letterboxed
to a thin strip in a vertical delivery is a warning; `reelforge schema` documents every field.
"""

from __future__ import annotations

import json

import pytest
from conftest import cli, small_spec, write_spec

from reelforge.plan.jobs import plan
from reelforge.spec.delivery import Delivery, NamedDelivery, named_delivery
from reelforge.spec.model import Production


def validate(tmp_path, **fields) -> tuple[int, list[str]]:
    """`reelforge validate` on the small example with these top-level fields replaced: (exit code, lines)."""
    spec = small_spec()
    spec.update(fields)
    code, output = cli("validate", str(write_spec(tmp_path / "show", spec)))
    return code, output.splitlines()


def problem_lines(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith("$.")]


@pytest.mark.parametrize("fields, path, words", [
    ({"delivery": {"format": "prores-422-hq", "bit_depth": 8}}, "$.delivery.bit_depth",
     "prores-422-hq (Apple ProRes 422 HQ) is delivered at 10 bits, not 8: set bit_depth to 10 or leave it out"),
    ({"delivery": {"format": "dnxhr-hqx", "chroma": "4:4:4"}}, "$.delivery.chroma",
     "dnxhr-hqx (Avid DNxHR HQX) carries 4:2:2 chroma, not 4:4:4: set chroma to 4:2:2 or leave it out; "
     "for 4:4:4 use prores-4444"),
    ({"delivery": {"format": "prores-4444", "chroma": "4:2:0"}}, "$.delivery.chroma", "carries 4:4:4 chroma"),
    ({"delivery": {"aspect_ratio": "4:3"}}, "$.delivery.aspect_ratio", "must be one of '16:9', '9:16', '1:1'"),
    ({"delivery": {"resolution": "2k"}}, "$.delivery.resolution", "must be one of '1080p', '4k', '8k'"),
    ({"deliveries": {"vertical": {"aspect_ratio": "9:16", "format": "prores-4444", "chroma": "4:2:2"}}},
     "$.deliveries.vertical.chroma", "prores-4444 (Apple ProRes 4444) carries 4:4:4 chroma, not 4:2:2"),
    ({"delivery": {"format": "prores-422-hq"}, "deliveries": {"web": {"bit_depth": 8}}},
     "$.deliveries.web.bit_depth", "is delivered at 10 bits, not 8"),
    ({"deliveries": {"vertical": {"fps": 23}}}, "$.deliveries.vertical.fps", "must be one of 24, 25, 30"),
    ({"deliveries": {"main": {"aspect_ratio": "9:16"}}}, "$.deliveries.main",
     "'main' names the main delivery (`reelforge render --delivery main`): give this one another name"),
    ({"deliveries": {"shots": {"aspect_ratio": "9:16"}}}, "$.deliveries.shots",
     "'shots' is the folder of renders/ that shot renders (--shot) go to: give this delivery another name"),
    ({"deliveries": {"takes": {"crf": 20}}}, "$.deliveries.takes", "'takes' is the folder of renders/ that takes"),
    ({"deliveries": {"Vertical Cut": {"aspect_ratio": "9:16"}}}, "$.deliveries['Vertical Cut']",
     "did you mean 'vertical-cut'?"),
    ({"deliveries": {"vertical": {"aspect": "9:16"}}}, "$.deliveries.vertical.aspect", ""),
    # what people call the choices: a case, the lines of a resolution, a codec's family or encoder name
    ({"delivery": {"resolution": "8K"}}, "$.delivery.resolution", "did you mean '8k'?"),
    ({"delivery": {"resolution": "2160p"}}, "$.delivery.resolution", "did you mean '4k'?"),
    ({"delivery": {"format": "ProRes"}}, "$.delivery.format", "did you mean 'prores-422-hq'?"),
    ({"delivery": {"format": "dnxhd"}}, "$.delivery.format", "did you mean 'dnxhr-hqx'?"),
    ({"deliveries": {"web": {"format": "h265"}}}, "$.deliveries.web.format", "did you mean 'hevc'?"),
    ({"delivery": {"aspect_ratio": "9x16"}}, "$.delivery.aspect_ratio", "did you mean '9:16'?"),
])
def test_validate_names_the_json_path_of_a_bad_delivery_in_one_line(tmp_path, fields, path, words):
    code, lines = validate(tmp_path, **fields)
    assert code == 2
    (problem,) = problem_lines(lines)
    assert problem.startswith(f"{path}: ") and words in problem
    assert not any("Traceback" in line for line in lines)


def test_good_deliveries_validate(tmp_path):
    code, lines = validate(tmp_path, delivery={"format": "prores-422-hq", "resolution": "4k"},
                           deliveries={"vertical": {"aspect_ratio": "9:16", "format": "h264"},
                                       "square": {"aspect_ratio": "1:1", "resolution": "1080p", "crf": 20},
                                       "hevc-10": {"format": "hevc", "bit_depth": 10, "chroma": "4:2:2"}})
    assert code == 0 and lines[0].startswith("OK ")


def test_a_wide_look_in_a_vertical_delivery_is_a_warning_and_strict_makes_it_an_error(tmp_path):
    spec = small_spec()
    spec["deliveries"] = {"vertical": {"aspect_ratio": "9:16"}, "square": {"aspect_ratio": "1:1"}}
    spec["look"] = {"aspect_ratio": "2.39:1"}
    spec["episodes"][0]["scenes"][1]["shots"][0]["look"] = {"aspect_ratio": "9:16"}  # fills it: no warning
    path = write_spec(tmp_path / "show", spec)
    code, output = cli("validate", str(path))
    warnings = [line.strip() for line in output.splitlines() if "letterboxed" in line]
    assert code == 0 and warnings == [
        "warning: $.look.aspect_ratio: a 2.39:1 picture is letterboxed to 24 % of the 9:16 frame in delivery "
        "'vertical'; a look without aspect_ratio fills each delivery's own shape"]
    code, output = cli("validate", "--strict", str(path))
    assert code == 2 and "$.look.aspect_ratio: a 2.39:1 picture is letterboxed" in output
    spec["look"] = {"aspect_ratio": "2.39:1", "grain": 0.1}
    spec.pop("deliveries")  # a 16:9 production letterboxes 2.39:1 as it always has: no warning
    code, output = cli("validate", str(write_spec(tmp_path / "wide", spec)))
    assert code == 0 and "letterboxed" not in output


def test_schema_documents_every_delivery_field(tmp_path):
    code, output = cli("schema")
    assert code == 0
    schema = json.loads(output)
    defs = schema["$defs"]
    for model in ("Delivery", "NamedDelivery"):
        fields = defs[model]["properties"]
        undocumented = [name for name, field in fields.items() if name != "watermark" and not field.get("description")]
        assert not undocumented, (model, undocumented)
    delivery, named = defs["Delivery"]["properties"], defs["NamedDelivery"]["properties"]
    assert delivery["aspect_ratio"]["enum"] == ["16:9", "9:16", "1:1"]
    assert delivery["resolution"]["enum"] == ["1080p", "4k", "8k"]
    assert delivery["format"]["enum"] == ["h264", "hevc", "prores-422-hq", "prores-4444", "dnxhr-hqx"]
    assert delivery["fps"]["enum"] == [24, 25, 30]
    assert {"enum": [8, 10], "type": "integer"} in delivery["bit_depth"]["anyOf"]
    assert {"enum": [24, 25, 30], "type": "integer"} in named["fps"]["anyOf"]
    assert "left out: the main delivery's" in named["format"]["description"]
    assert "default: the delivery's own shape" in defs["Look"]["properties"]["aspect_ratio"]["description"]
    assert "propertyNames" in schema["properties"]["deliveries"]


def test_a_named_delivery_is_the_main_one_with_its_changes():
    main = Delivery(format="prores-422-hq", resolution="4k", crf=20)
    vertical = named_delivery(main, NamedDelivery(aspect_ratio="9:16", format="h264"))
    # A changed format brings its own depth and chroma; everything else is the main delivery's.
    assert (vertical.size, vertical.format, vertical.depth, vertical.sampling, vertical.crf, vertical.suffix) == \
        ((2160, 3840), "h264", 8, "4:2:0", 20, ".mp4")
    master = named_delivery(Delivery(), NamedDelivery(format="prores-4444"))
    assert (master.size, master.depth, master.sampling, master.suffix) == ((1920, 1080), 10, "4:4:4", ".mov")
    square = named_delivery(Delivery(bit_depth=10, chroma="4:2:2"), NamedDelivery(aspect_ratio="1:1"))
    assert (square.size, square.depth, square.sampling) == ((1080, 1080), 10, "4:2:2")


def test_an_unset_look_fills_the_delivery_and_a_set_one_is_boxed_inside_it():
    spec = small_spec()
    spec["delivery"] = {"aspect_ratio": "9:16"}
    spec["episodes"][0]["scenes"][1]["look"] = {"aspect_ratio": "16:9"}
    jobs = [job for episode in plan(Production.model_validate(spec)) for job in episode.jobs]
    full, boxed = jobs[0], jobs[-1]
    assert (full.look.aspect_ratio, full.width, full.height) == ("9:16", 1080, 1920)  # full-frame vertical
    assert (boxed.look.aspect_ratio, boxed.width, boxed.height) == ("16:9", 1080, 608)  # letterboxed
    assert {(job.canvas_width, job.canvas_height) for job in jobs} == {(1080, 1920)}
