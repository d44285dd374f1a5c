"""The render farm: a render through Ray is the local engine's render, byte for byte, and survives lost workers.

A local farm of 2 CPUs with 2 declared GPUs runs previz as CPU tasks and the tiny generative
backends on the GPU actor path; a two-node cluster on this machine (Ray's own `ray start`) loses
its second node mid-render. Every comparison is exact: frame hashes, segment hashes, unsigned
episode streams and the unsigned contact sheet, as the catalog recorded them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import run_cli
from render_support import harbor_lights, recorded, rendered, tiny_backend_shot
from studio_support import running

from reelforge.app.render_request import RenderRefused, RenderRequest, render_production
from reelforge.cli.render import with_farm_default
from reelforge.engine.shot import Backends, LocalShots, RenderedOn, render_shot, segment_key
from reelforge.farm.accept import DamagedResult, ResultRejected, accept
from reelforge.farm.cluster import join, leave
from reelforge.farm.options import FarmOptions
from reelforge.farm.runner import FarmShots
from reelforge.farm.units import Unit, plan_units
from reelforge.farm.worker import UnitResult
from reelforge.media.encode import encode_settings
from reelforge.plan.jobs import plan
from reelforge.spec.load import load_production
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.studio.queue import RenderQueue

pytestmark = pytest.mark.xdist_group("farm")  # one Ray instance per test process

LOCAL_FARM = FarmOptions(cpus=2, gpus=2)  # declared GPUs: the actor path runs on this CPU machine
RAY = Path(sys.executable).parent / "ray"


@pytest.fixture(scope="module")
def farm():
    join(LOCAL_FARM)
    yield LOCAL_FARM
    leave()


@pytest.fixture(scope="module")
def local_harbor(tmp_path_factory) -> dict:
    """The bundled example rendered by the local engine, as a user would."""
    return without_environment(rendered(harbor_lights(tmp_path_factory.mktemp("local") / "harbor-lights")))


def without_environment(found: dict) -> dict:
    """What must be identical (the driver's recorded environment is not output)."""
    return {key: value for key, value in found.items() if key != "environment"}


def farm_render(spec: Path, farm: FarmOptions, **request) -> dict:
    render_production(RenderRequest(spec=spec, farm=farm, **request))
    return without_environment(recorded(spec))


def node_rows(spec: Path) -> list[tuple]:
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        return db.execute("SELECT s.shot_path, n.host, n.environment_json FROM render_shot_nodes n JOIN "
                          "render_shots s ON s.render_id = n.render_id AND s.position = n.position").fetchall()


# ----------------------------------------------------------------------------- byte-identical


def test_a_farm_render_of_the_example_is_the_local_render_and_verifies_on_one_machine(farm, local_harbor, tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    assert farm_render(spec, farm) == local_harbor
    rows = node_rows(spec)
    assert len(rows) == 6  # every shot of both episodes, with the node that rendered it
    for _, host, environment in rows:
        assert host.startswith(socket.gethostname())
        assert json.loads(environment)["cpu"]  # that node's own fingerprint
    shown = json.loads(run_cli("show", "render:1", "--production", str(spec)).stdout)
    assert all(shot["rendered_on"] for shot in shown["shots"])
    verified = run_cli("verify", str(spec.parent / "renders" / "s01e01.mp4"))
    assert "VERIFIED: every byte matches" in verified.stdout
    # A frame range of a shot, through the farm: frames anew, equal to the full render's.
    outcome = render_production(RenderRequest(spec=spec, shot="s01e01/sc01/sh02", frames=(10, 20), farm=farm))
    assert outcome.range_matches and "frames 10–19 match the full render byte for byte" in outcome.range_report
    assert outcome.results[0].shots[0].nodes and not outcome.results[0].shots[0].reused


@pytest.mark.parametrize("backend", ["sdxl", "wan"])
def test_tiny_generative_shots_render_on_gpu_actors_byte_identical_to_the_local_engine(farm, backend, tmp_path):
    local = rendered(tiny_backend_shot(tmp_path / "local", backend), "--device", "cpu", "--threads", "2")
    spec = tiny_backend_shot(tmp_path / "farm", backend)
    runner = FarmShots(farm)
    assert runner.worker_kind(runner.plan(jobs_of(spec, backend=backend), ShotStore.of(
        ProductionPaths.for_spec(spec)), Backends()).units[0]) == "a GPU worker"
    assert farm_render(spec, farm, device="cpu", threads=2) == without_environment(local)
    assert [shot for shot, _, _ in node_rows(spec)] == ["s01e01/sc01/sh01"]  # rendered on the farm, not here


def test_a_model_worker_killed_mid_shot_is_replaced_and_the_shot_is_unchanged(farm, tmp_path):
    local = rendered(tiny_backend_shot(tmp_path / "local", "sdxl"), "--device", "cpu", "--threads", "2")
    spec = tiny_backend_shot(tmp_path / "farm", "sdxl")
    killed: list[int] = []

    def kill_the_model_worker(status) -> None:  # while it loads the checkpoint or renders
        pids = [pid for node in status.nodes.values() for pid in node.pids]
        if pids and not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    render_production(RenderRequest(spec=spec, farm=farm, device="cpu", threads=2),
                      farm_watch=kill_the_model_worker)
    assert killed
    assert without_environment(recorded(spec)) == without_environment(local)


def test_a_long_sdxl_shot_split_over_two_gpu_workers_gives_the_local_frames_and_segment(farm, tmp_path):
    spec = tiny_backend_shot(tmp_path / "tiny", "sdxl")
    data = json.loads(spec.read_text())
    data["episodes"][0]["scenes"][0]["shots"][0]["frames"] = 24
    spec.write_text(json.dumps(data))
    [job] = jobs_of(spec)
    assert_split_equals_local(job, spec, farm, tmp_path, [(0, 12), (12, 24)])


def assert_split_equals_local(job, spec: Path, farm: FarmOptions, tmp_path: Path, spans: list) -> None:
    """The shot rendered as frame spans on two farm workers: the local engine's frames and segment."""
    settings = encode_settings(load_production(spec).delivery)
    local_store = ShotStore.of(ProductionPaths.for_root(tmp_path / "local-store"))
    farm_store = ShotStore.of(ProductionPaths.for_spec(spec))
    runner = FarmShots(farm)
    try:
        assert [u.span for u in runner.plan([job], farm_store, Backends()).units] == spans
        [local] = LocalShots().render_shots([job], local_store, settings, Backends(), lambda job, n: None)
        done: list[int] = []
        [split] = runner.render_shots([job], farm_store, settings, Backends(), lambda job, n: done.append(n))
    finally:
        runner.close()
    assert split.frame_hashes == local.frame_hashes
    assert split.segment.read_bytes() == local.segment.read_bytes()
    assert sum(done) == job.frames and not split.reused and split.rendered_frames == job.frames
    assert len(split.nodes) == 1  # both spans on this machine's one node


def jobs_of(spec: Path, **model) -> list:
    production = load_production(spec)
    if production.backend == "previz":
        return [job for episode in plan(production, spec.parent) for job in episode.jobs]
    from reelforge.backends.models import resolve_model
    from reelforge.backends.runtime import resolve_runtime

    return [job for episode in plan(production, spec.parent, resolve_model(production, resolve_runtime("cpu", 2),
                                                                          spec.parent)) for job in episode.jobs]


def test_a_long_previz_shot_split_over_two_workers_gives_the_local_frames_and_segment(farm, tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    job = jobs_of(spec)[0]  # 72 frames, one shot for two workers: two spans
    assert_split_equals_local(job, spec, farm, tmp_path, [(0, 36), (36, 72)])


def test_a_shot_left_half_done_goes_out_as_spans_of_its_missing_frames(tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    job = jobs_of(spec)[0]
    store = ShotStore.of(ProductionPaths.for_spec(spec))
    settings = encode_settings(load_production(spec).delivery)
    [local] = LocalShots().render_shots([job], store, settings, Backends(), lambda job, n: None)
    store.job(job.key).forget_manifest()
    for index in [*range(0, 20), *range(30, 40)]:  # what a killed render journaled
        store.job(job.key).append_journal(index, local.frame_hashes[index])
    assert local.frame_hashes.count(local.frame_hashes[35]) == 1
    store.frames.path(local.frame_hashes[35]).unlink()  # a journaled frame since lost: rendered again
    work = plan_units([job], store, slots=1, frame_independent=lambda backend: True)
    assert [u.span for u in work.units] == [(20, 30), (35, 36), (40, 72)]
    assert plan_units([job], ShotStore.of(ProductionPaths.for_root(tmp_path / "empty")), slots=5,
                      frame_independent=lambda backend: False).units[0].span is None  # clips never split


# ----------------------------------------------------------------------------- what the driver keeps


def worker_result(job, settings, folder: Path) -> UnitResult:
    """What a worker sends back for a whole shot: rendered here by the engine into a scratch store."""
    store = ShotStore.of(ProductionPaths.for_root(folder))
    out = render_shot(job, store, settings, Backends())
    return UnitResult(0, job.key, 0, out.frame_hashes, {h: store.frames.read_encoded(h) for h in out.frame_hashes},
                      out.segment.read_bytes(), out.segment_sha256, job.frames,
                      RenderedOn("f" * 56, "other", "10.0.0.9", {}))


def test_the_driver_keeps_only_results_that_match_their_job_and_their_hashes(tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    first, second = jobs_of(spec)[:2]
    first = first.model_copy(update={"frames": 4})
    settings = encode_settings(load_production(spec).delivery)
    store = ShotStore.of(ProductionPaths.for_spec(spec))
    result = worker_result(first, settings, tmp_path / "worker")
    unit = Unit(0, first)

    damaged = dataclasses.replace(result, frames={**result.frames, result.frame_hashes[1]: b"RFF1 not a frame"})
    with pytest.raises(DamagedResult):
        accept(damaged, unit, store, settings)
    assert not store.frames.has(result.frame_hashes[1]) and store.job(first.key).read_manifest() is None
    with pytest.raises(DamagedResult):
        accept(dataclasses.replace(result, segment=result.segment + b"x"), unit, store, settings)
    with pytest.raises(ResultRejected):  # another job's result is never filed under this job
        accept(result, Unit(0, second.model_copy(update={"frames": 4})), store, settings)

    kept = accept(result, unit, store, settings)
    assert store.job(first.key).read_manifest() == result.frame_hashes == kept.frame_hashes
    assert store.segments.stored(segment_key(result.frame_hashes, settings))[1] == result.segment_sha256

    # The same job run again (at-least-once) on a node that renders other frames: rejected, the store stands.
    other = dataclasses.replace(result, frame_hashes=list(reversed(result.frame_hashes)))
    with pytest.raises(ResultRejected, match="other frames than the store holds"):
        accept(other, unit, store, settings)
    assert store.job(first.key).read_manifest() == result.frame_hashes


# ----------------------------------------------------------------------------- faults


def test_a_worker_killed_mid_shot_reruns_its_shot_and_the_render_is_unchanged(farm, local_harbor, tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    killed: list[int] = []
    statuses = []

    def kill_first_worker(status) -> None:
        statuses.append(status.retries)
        pids = [pid for node in status.nodes.values() for pid in node.pids]
        if pids and not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    render_production(RenderRequest(spec=spec, farm=farm), farm_watch=kill_first_worker)
    assert killed and statuses[-1] >= 1
    assert without_environment(recorded(spec)) == local_harbor


def test_a_checkpoint_that_differs_on_a_node_fails_once_naming_the_node(farm, tmp_path):
    spec = tiny_backend_shot(tmp_path / "tiny", "sdxl")
    retries: list[int] = []

    def change_the_checkpoint(episodes, job) -> None:  # after planning: the node now holds other weights
        config = spec.parent / "checkpoint" / "unet" / "config.json"
        config.write_text(config.read_text() + " ")

    with pytest.raises(RenderRefused) as refused:
        render_production(RenderRequest(spec=spec, farm=farm, device="cpu", threads=2),
                          planned=change_the_checkpoint, farm_watch=lambda status: retries.append(status.retries))
    message = str(refused.value)
    assert refused.value.code == 2
    assert re.search(rf"on farm node {socket.gethostname()} \([0-9.]+, node [0-9a-f]{{8}}\): ", message)
    assert "is not the one the job was planned with" in message and "copy the same files" in message
    assert "\n" not in message and not any(retries)  # one line, never retried


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_until(condition, failure: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def start_node(log: Path, temp_dir: str, *args: str) -> subprocess.Popen:
    """A Ray node started with Ray's own command, in its own process group (stopped by that group, not by name).

    Each node has its own temp dir, short: Ray's sockets live there and a Unix socket path has
    at most 107 characters.
    """
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    with log.open("w") as out:
        return subprocess.Popen([str(RAY), "start", *args, "--temp-dir", temp_dir, "--disable-usage-stats",
                                 "--block"], start_new_session=True, stdout=out, stderr=subprocess.STDOUT, env=env)


def processes() -> dict[int, tuple[int, int, bytes]]:
    """Every process: pid → (parent pid, process group, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(stat[1]), int(stat[2]), (entry / "cmdline").read_bytes())
        except (OSError, IndexError, ValueError):
            continue
    return found


def node_processes(group: int, title: bytes = b"ray::render_unit_task") -> tuple[list[int], list[int]]:
    """(every process of the node started in `group`, those whose command line holds `title`).

    Ray titles a busy worker by its task (`ray::render_unit_task`: rendering a farm unit now).

    Ray's workers start sessions of their own, so they are found as descendants of the node's raylet.
    """
    table = processes()

    def of_node(pid: int) -> bool:
        while pid > 1 and pid in table:
            if table[pid][1] == group:
                return True
            pid = table[pid][0]
        return False

    members = [pid for pid in table if of_node(pid)]
    return members, [pid for pid in members if title in table[pid][2]]


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(20)


def test_a_node_lost_mid_render_leaves_the_delivery_unchanged(local_harbor, tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rf-ray-", dir="/tmp") as head_dir, \
            tempfile.TemporaryDirectory(prefix="rf-ray-", dir="/tmp") as second_dir:
        render_on_two_nodes(spec, port, tmp_path, head_dir, second_dir)
    assert without_environment(recorded(spec)) == local_harbor


def render_on_two_nodes(spec: Path, port: int, logs: Path, head_dir: str, second_dir: str) -> None:
    """Render `spec` on a head and a second node, and kill the second node's processes mid-render."""
    head = start_node(logs / "head.log", head_dir, "--head", "--port", str(port), "--num-cpus", "1",
                      "--include-dashboard", "false")
    second = None
    try:
        wait_until(lambda: answers(port), "the head node never listened")
        second = start_node(logs / "node2.log", second_dir, "--address", f"127.0.0.1:{port}", "--num-cpus", "1")
        wait_until(lambda: node_processes(second.pid, b"raylet/raylet")[1], "the second node never started its raylet")
        time.sleep(3)  # and registered it with the head
        render = subprocess.Popen([sys.executable, "-m", "reelforge.cli", "render", str(spec), "--farm",
                                   f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
        deadline = time.monotonic() + 120
        while not node_processes(second.pid)[1] and render.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        members, rendering = node_processes(second.pid)
        assert rendering, "the second node never rendered a unit: " + (render.communicate()[0] if render.poll() else "")
        for pid in members:  # the whole node, mid-shot: its raylet, object store and workers
            os.kill(pid, signal.SIGKILL)
        output, _ = render.communicate(timeout=300)
        assert render.returncode == 0, output
        assert "retry" in output
    finally:
        if second is not None:
            stop_group(second, signal.SIGKILL)
        stop_group(head)


# ----------------------------------------------------------------------------- commands


def test_farm_alone_means_a_farm_on_this_machine():
    assert with_farm_default(["render", "p.json", "--farm"]) == ["render", "p.json", "--farm", "local"]
    assert with_farm_default(["render", "--farm", "p.json"]) == ["render", "--farm", "local", "p.json"]
    assert with_farm_default(["render", "--farm", "--dry-run", "p.json"])[2] == "local"
    for address in ("auto", "10.0.0.5:6379", "ray://head:10001", "local"):
        assert with_farm_default(["render", "p.json", "--farm", address]) == ["render", "p.json", "--farm", address]


def test_a_dry_run_says_where_each_shot_would_render_and_renders_nothing(tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    run_cli("render", str(spec), "--episode", "s01e02")
    result = run_cli("render", str(spec), "--farm", "--dry-run")
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ s01e")]
    actions = [row.split("│")[3].strip() for row in rows]
    assert actions[4:] == ["reused from the store"] * 2
    assert all("on a CPU task" in action for action in actions[:4])  # whole, or split on a machine of 5+ CPUs
    assert "4 shot(s) to render, 2 reused from the store, in " in result.stdout
    assert socket.gethostname() in result.stdout  # the farm's nodes
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM renders").fetchone() == (1,)


def test_a_farm_that_cannot_be_joined_is_one_line_and_exit_2(tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    result = run_cli("render", str(spec), "--farm", f"127.0.0.1:{free_port()}", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "nothing answers there" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_studio_queue_renders_through_the_farm(farm, tmp_path):
    spec = harbor_lights(tmp_path / "harbor-lights")
    queue = RenderQueue(spec, farm=farm)
    with running(queue):
        item, _ = queue.submit("shot:s01e02/sc01/sh01", "ana")
        done = queue.wait(item["id"], 300)
    assert done["state"] == "done", done["message"]
    assert [shot for shot, _, _ in node_rows(spec)] == ["s01e02/sc01/sh01"]
