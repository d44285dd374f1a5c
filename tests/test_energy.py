"""Energy: the estimate path, RAPL and NVML readers on fakes, report math, catalog round trip, the command."""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import pytest
import typer

from reelforge.cli.energy import energy_command
from reelforge.energy import meters
from reelforge.energy.meters import EnergyMeter, EnergyReading, RaplCounters, find_rapl_zones
from reelforge.energy.report import energy_range, energy_report, energy_text, render_figures
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import RenderRecord


def burn_cpu(seconds: float = 0.05) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        sum(i * i for i in range(1000))


# -- estimate ------------------------------------------------------------------------------

def test_cpu_estimate_without_rapl(tmp_path: Path):
    meter = EnergyMeter("cpu", powercap=tmp_path / "no-powercap")
    meter.start()
    burn_cpu()
    reading = meter.stop()
    assert list(reading.components) == ["cpu"]  # a cpu render reports no GPU
    cpu = reading.components["cpu"]
    assert not cpu.measured and cpu.method.startswith("estimated:")
    assert "4 W per busy hardware thread" in cpu.method and "no RAPL counters" in cpu.method
    assert cpu.inputs["cpu_seconds"] >= 0.05
    assert cpu.joules == pytest.approx(cpu.inputs["cpu_seconds"] * 4.0)
    assert reading.kwh_total > 0 and reading.kwh_measured == 0 and reading.kwh_estimated == reading.kwh_total
    data = json.loads(json.dumps(reading.to_json()))
    assert EnergyReading.from_json(data).to_json() == data


def test_default_meter_on_this_machine_names_its_method():
    with EnergyMeter("cpu") as meter:
        burn_cpu(0.02)
    cpu = meter.reading.components["cpu"]
    assert cpu.joules > 0
    if not meters.POWERCAP.exists():  # these VMs: no RAPL, so the figure must say it is an estimate
        assert not cpu.measured and cpu.method.startswith("estimated:")


# -- RAPL ----------------------------------------------------------------------------------

def fake_zone(root: Path, name: str, label: str, energy: int, max_range: int = 10_000) -> Path:
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{energy}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def test_rapl_reads_package_zones_only_and_handles_wraparound(tmp_path: Path):
    package = fake_zone(tmp_path, "intel-rapl:0", "package-0", 1_000)
    fake_zone(tmp_path, "intel-rapl:0:0", "core", 500)  # part of the package
    fake_zone(tmp_path, "intel-rapl:1", "psys", 7_000)  # whole platform: would count the package twice
    fake_zone(tmp_path, "intel-rapl-mmio:0", "package-0", 3_000)  # a second view of the same package
    zones, why = find_rapl_zones(tmp_path)
    assert zones == [package] and why is None

    counters = RaplCounters(zones)
    (package / "energy_uj").write_text("9000\n")
    counters.sample()
    assert counters.total_uj == 8_000
    (package / "energy_uj").write_text("500\n")  # wrapped at 10 000
    counters.sample()
    assert counters.total_uj == 8_000 + (10_000 - 9_000) + 500


def test_meter_measures_with_rapl_across_a_wrap(tmp_path: Path):
    first = fake_zone(tmp_path, "intel-rapl:0", "package-0", 4_000_000, max_range=10_000_000)
    second = fake_zone(tmp_path, "intel-rapl:1", "package-1", 0, max_range=10_000_000)
    meter = EnergyMeter("cpu", powercap=tmp_path, sample_seconds=3600).start()
    (first / "energy_uj").write_text("9000000\n")
    meter._rapl.sample()  # what the sampling thread does every 30 s
    (first / "energy_uj").write_text("1000000\n")  # wrapped
    (second / "energy_uj").write_text("2500000\n")
    reading = meter.stop()
    cpu = reading.components["cpu"]
    assert cpu.measured and cpu.method.startswith("measured: RAPL package energy counters")
    assert str(first) in cpu.method and str(second) in cpu.method
    assert cpu.joules == pytest.approx(5.0 + 2.0 + 2.5)  # 4→9 J, 9→10 J wrap 0→1 J, and 2.5 J
    assert reading.kwh_measured == pytest.approx(9.5 / 3.6e6) and reading.kwh_estimated == 0


def test_rapl_absent_or_without_packages_says_why(tmp_path: Path):
    assert find_rapl_zones(tmp_path / "absent") == ([], f"no RAPL counters on this machine ({tmp_path / 'absent'} is absent)")
    fake_zone(tmp_path, "intel-rapl:0", "psys", 1)
    zones, why = find_rapl_zones(tmp_path)
    assert zones == [] and "no RAPL package zones" in why


# -- NVML ----------------------------------------------------------------------------------

class FakeNVMLError(Exception):
    pass


def fake_pynvml(energies_mj: list[int], *, init_fails: bool = False, limit_mw: int = 700_000) -> types.ModuleType:
    """A stand-in for nvidia-ml-py's `pynvml`: the energy counter returns `energies_mj` in turn."""
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.calls = []
    readings = iter(energies_mj)

    def init():
        if init_fails:
            raise FakeNVMLError("NVML Shared Library Not Found")
        module.calls.append("init")

    def energy(handle):
        value = next(readings)
        if isinstance(value, Exception):
            raise value
        return value

    module.nvmlInit = init
    module.nvmlShutdown = lambda: module.calls.append("shutdown")
    module.nvmlDeviceGetHandleByIndex = lambda i: ("index", i)
    module.nvmlDeviceGetHandleByUUID = lambda u: ("uuid", u)
    module.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    module.nvmlDeviceGetTotalEnergyConsumption = energy
    module.nvmlDeviceGetEnforcedPowerLimit = lambda h: limit_mw
    return module


@pytest.fixture
def no_torch_no_visible(monkeypatch):
    """GPU numbering as NVML has it: no torch loaded to ask for UUIDs, no CUDA_VISIBLE_DEVICES."""
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_nvml_energy_counter_delta_is_measured(tmp_path: Path, monkeypatch, no_torch_no_visible):
    fake = fake_pynvml([10_000_000, 10_000_000 + 3_600_000])  # 3 600 000 mJ = 3 600 J = 0.001 kWh
    monkeypatch.setattr(meters, "pynvml", fake)
    reading = EnergyMeter("cuda:1", powercap=tmp_path / "none").start().stop()
    gpu = reading.components["gpu"]
    assert gpu.measured and gpu.joules == 3600.0 and gpu.kwh == pytest.approx(0.001, rel=1e-12)
    assert gpu.method == ("measured: NVML total energy counter of NVIDIA H100 80GB HBM3 (GPU 1; "
                          "the whole board: every process on this GPU is counted)")
    assert reading.kwh_measured == pytest.approx(0.001, rel=1e-12)
    assert reading.kwh_total == pytest.approx(reading.kwh_measured + reading.components["cpu"].kwh)
    assert fake.calls == ["init", "shutdown"]


def test_nvml_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    fake = fake_pynvml([])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert meters.nvml_handle(fake, 0) == (("index", 3), "GPU 3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-abc,GPU-def")
    assert meters.nvml_handle(fake, 1) == (("uuid", "GPU-def"), "GPU-def")


def test_cuda_without_nvml_is_an_estimate_that_says_so(tmp_path: Path, monkeypatch, no_torch_no_visible):
    monkeypatch.setattr(meters, "pynvml", fake_pynvml([], init_fails=True))
    reading = EnergyMeter("cuda", powercap=tmp_path / "none", gpu_watts=250).start().stop()
    gpu = reading.components["gpu"]
    assert not gpu.measured and gpu.method.startswith("estimated: wall time × 250 W")
    assert "NVML unavailable" in gpu.method and "Not Found" in gpu.method
    assert gpu.joules == pytest.approx(reading.seconds * 250)
    assert reading.kwh_measured == 0


def test_gpu_without_energy_counter_uses_the_power_limit(tmp_path: Path, monkeypatch, no_torch_no_visible):
    monkeypatch.setattr(meters, "pynvml", fake_pynvml([5, FakeNVMLError("Not Supported")], limit_mw=700_000))
    reading = EnergyMeter("cuda:0", powercap=tmp_path / "none").start().stop()
    gpu = reading.components["gpu"]
    assert not gpu.measured and "enforced power limit" in gpu.method and "Not Supported" in gpu.method
    assert gpu.inputs["watts"] == 700.0 and gpu.joules == pytest.approx(reading.seconds * 700.0)


def test_cpu_device_never_touches_nvml(tmp_path: Path, monkeypatch):
    fake = fake_pynvml([0, 1000])
    monkeypatch.setattr(meters, "pynvml", fake)
    reading = EnergyMeter("cpu", powercap=tmp_path / "none").start().stop()
    assert "gpu" not in reading.components and fake.calls == []


# -- report math ---------------------------------------------------------------------------

def row(render_id: int, frames: int, fps: int, components: dict, kind: str = "episode", shots_rendered: int = 2) -> dict:
    measured = sum(c["kwh"] for c in components.values() if c["measured"])
    estimated = sum(c["kwh"] for c in components.values() if not c["measured"])
    return {"render_id": render_id, "kind": kind, "episode_id": "s01e01", "output_path": f"/r/{render_id}.mp4",
            "frames": frames, "started_at": "2026-01-01T00:00:00+00:00", "fps": fps, "shots_rendered": shots_rendered,
            "shots_reused": 0, "device": "cuda:0", "seconds": 60.0, "kwh_total": measured + estimated,
            "kwh_measured": measured, "kwh_estimated": estimated,
            "reading": {"components": components}}


GPU = {"kwh": 0.15, "joules": 540000.0, "measured": True, "method": "measured: NVML total energy counter of X (GPU 0)"}
CPU = {"kwh": 0.05, "joules": 180000.0, "measured": False, "method": "estimated: CPU time × 4 W"}


def test_report_per_minute_and_pue():
    one = render_figures(row(1, frames=1500, fps=25, components={"gpu": GPU, "cpu": CPU}))  # exactly 1 minute
    assert one["finished_minutes"] == pytest.approx(1.0)
    assert one["kwh"] == pytest.approx(0.2) and one["kwh_per_minute"] == pytest.approx(0.2)
    assert one["kwh_at_pue"] == {"1.3": pytest.approx(0.26), "1.5": pytest.approx(0.30)}
    assert one["kwh_per_minute_at_pue"]["1.5"] == pytest.approx(0.30)
    assert one["measured"] == ["gpu"] and one["estimated"] == ["cpu"] and one["notes"] == []

    report = energy_report([row(1, 1500, 25, {"gpu": GPU, "cpu": CPU}),
                            row(2, 3000, 30, {"cpu": {**CPU, "kwh": 0.1}}, shots_rendered=0)])
    second = report["renders"][1]
    assert second["finished_minutes"] == pytest.approx(100 / 60)
    assert second["kwh_per_minute"] == pytest.approx(0.1 / (100 / 60))
    assert "reused" in second["notes"][0]  # near-zero energy is legitimate then
    totals = report["totals"]
    assert totals["kwh"] == pytest.approx(0.3) and totals["finished_minutes"] == pytest.approx(1 + 100 / 60)
    assert totals["kwh_measured"] == pytest.approx(0.15) and totals["kwh_estimated"] == pytest.approx(0.15)
    # per finished minute counts rendered minutes only: render 2 was assembled from the store
    assert totals["rendered_minutes"] == pytest.approx(1.0)
    assert totals["kwh_per_minute"] == pytest.approx(0.3 / 1.0)
    assert totals["kwh_per_minute_at_pue"]["1.3"] == pytest.approx(1.3 * 0.3)
    assert [(m["component"], m["measured"], m["render_ids"]) for m in report["methods"]] == [
        ("cpu", False, [1, 2]), ("gpu", True, [1])]


def test_report_without_fps_has_no_per_minute_figure():
    figures = render_figures(row(1, 100, 0, {"cpu": CPU}))
    assert figures["finished_minutes"] == 0 and figures["kwh_per_minute"] is None
    assert figures["kwh_per_minute_at_pue"] == {"1.3": None, "1.5": None}


# -- catalog and command -------------------------------------------------------------------

def add_render(catalog: Catalog, frames: int = 48, fps: int = 24, reading: EnergyReading | None = None) -> int:
    with catalog.session() as session:
        record = RenderRecord(kind="episode", episode_id="s01e01", output_path="/show/renders/s01e01.mp4",
                              output_sha256="0" * 64, started_at="2026-01-01T00:00:00+00:00",
                              finished_at="2026-01-01T00:01:00+00:00", seconds=60.0, frames=frames,
                              shots_rendered=3, shots_reused=0, encode_json=json.dumps({"fps": fps, "crf": 18}),
                              environment_json="{}")
        session.add(record)
        session.flush()
        if reading is not None:
            catalog.record_energy(session, record.id, reading)
        session.commit()
        return record.id


def sample_reading() -> EnergyReading:
    return EnergyReading.from_json({"device": "cuda:0", "seconds": 60.0, "components": {
        "gpu": {"joules": 36000.0, "measured": True, "method": "measured: NVML total energy counter of H100 (GPU 0)"},
        "cpu": {"joules": 3600.0, "measured": False, "method": "estimated: CPU time × 4 W per busy hardware thread"}}})


def test_record_energy_round_trip(tmp_path: Path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    add_render(catalog)  # a render without energy (recorded before energy existed) is left out
    render_id = add_render(catalog, frames=48, fps=24, reading=sample_reading())
    rows = Catalog(tmp_path / "catalog.sqlite").energy_rows()
    assert len(rows) == 1
    got = rows[0]
    assert (got["render_id"], got["kind"], got["episode_id"], got["frames"], got["fps"]) == (render_id, "episode", "s01e01", 48, 24)
    assert got["output_path"] == "/show/renders/s01e01.mp4" and got["started_at"] == "2026-01-01T00:00:00+00:00"
    assert got["device"] == "cuda:0" and got["seconds"] == 60.0
    assert got["kwh_measured"] == pytest.approx(0.01) and got["kwh_estimated"] == pytest.approx(0.001)
    assert got["kwh_total"] == pytest.approx(0.011)
    assert got["reading"] == sample_reading().to_json()


@pytest.fixture
def production(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("COLUMNS", "250")
    spec = tmp_path / "show" / "production.json"
    spec.parent.mkdir()
    spec.write_text("{}")
    return spec


def test_energy_command_without_renders_exits_2(production: Path, capsys):
    with pytest.raises(typer.Exit) as no_catalog:
        energy_command(production)
    assert no_catalog.value.exit_code == 2
    assert not ProductionPaths.for_spec(production).catalog.exists()  # a report never creates a catalog
    add_render(Catalog(ProductionPaths.for_spec(production).catalog))  # a render, but no energy recorded
    with pytest.raises(typer.Exit) as no_energy:
        energy_command(production, as_json=True)
    assert no_energy.value.exit_code == 2
    captured = capsys.readouterr()
    assert "no render energy recorded" in captured.err and "Traceback" not in captured.err
    with pytest.raises(typer.Exit) as no_spec:
        energy_command(production.parent / "missing.json")
    assert no_spec.value.exit_code == 2


def test_energy_command_table_and_json(production: Path, capsys):
    catalog = Catalog(ProductionPaths.for_spec(production).catalog)
    render_id = add_render(catalog, frames=1440, fps=24, reading=sample_reading())  # 1 finished minute
    energy_command(production)
    out = capsys.readouterr().out
    line = next(li for li in out.splitlines() if li.strip("│ ").startswith(str(render_id)))
    for cell in ("s01e01", "cuda:0", "1.00", "11.0 Wh", "14.3–16.5 Wh/min", "gpu✓", "cpu~"):  # ✓ measured, ~ estimated
        assert cell in line
    assert "✓ measured, ~ estimated" in out
    assert "Measured: 10.0 Wh of 11.0 Wh in total; estimated: 1.00 Wh" in out
    assert "e-0" not in out  # no figure in e-notation
    assert "gpu (measured, renders 1): measured: NVML total energy counter of H100 (GPU 0)" in out
    assert "cpu (ESTIMATED, renders 1): estimated: CPU time × 4 W per busy hardware thread" in out
    assert "PUE 1.3–1.5" in out

    energy_command(production, as_json=True)
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["kwh_per_minute"] == pytest.approx(0.011)
    assert data["renders"][0]["measured"] == ["gpu"] and data["renders"][0]["estimated"] == ["cpu"]


@pytest.mark.parametrize(("kwh", "per", "text"), [
    (2.31e-05, "", "0.0231 Wh"), (1.2345, "", "1.23 kWh"), (0.9996, "", "1.00 kWh"), (0.011, "/min", "11.0 Wh/min"),
    (0.0001, "", "0.100 Wh"), (12345.0, "", "12300 kWh"), (0.0, "", "0 Wh"), (None, "", "–"),
    (float("nan"), "", "–"),
])
def test_energy_reads_in_wh_or_kwh_with_three_significant_figures(kwh, per, text):
    assert energy_text(kwh, per) == text


def test_an_energy_range_is_written_in_the_unit_of_its_higher_end():
    assert energy_range(3.0e-05, 3.46e-05, "/min") == "0.0300–0.0346 Wh/min"
    assert energy_range(0.9, 1.2) == "0.900–1.20 kWh"
    assert energy_range(None, 1.0) == "–"
