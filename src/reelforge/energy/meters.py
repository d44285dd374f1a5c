"""The energy of one render: measured where the hardware has a counter, estimated (and said so) elsewhere.

Sources, most trusted first:

- GPU (cuda devices only): NVML's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`,
  millijoules since the driver loaded; Volta and newer). It covers the whole board, so another
  process on the same GPU is counted too.
- CPU: RAPL package counters, `/sys/class/powercap/intel-rapl:N/energy_uj`, which wrap at
  `max_energy_range_uj`. A background thread samples them every 30 s, so a long render cannot
  wrap a counter twice between two reads (≈262 kJ range: ≥ 10 minutes even at 400 W). They cover
  the whole package(s): every process on the CPU is counted.
- Otherwise an estimate: this process's CPU time (all threads, plus child processes it waited
  for) × 4 W per busy hardware thread. 4 W per thread is CodeCarbon's own fallback for CPUs
  missing from its TDP table, so the figure matches what that tracker reports on such a CPU.
  The machine's idle draw, RAM, disks and other processes are not counted.

Why not CodeCarbon's OfflineEmissionsTracker (evaluated: codecarbon 3.3.2, offline, no network):
on these machines (AMD EPYC VM, no RAPL) it does not know the CPU model and falls back to exactly
the estimate above (4 W × threads × process CPU load) plus a flat 10 W for RAM. To get there it
pulls in 11 more packages (pandas, authlib, questionary, rapidfuzz, prometheus-client, arrow,
pycountry, …), its `start()` takes ≈1.5 s (a render of reused shots takes less), and it logs
INFO and WARNING lines even with `log_level="error"`. Where a counter exists, NVML and RAPL are
read directly, which is all any library does. So the estimate is this small documented formula,
named in every reading.

Each component's `method` sentence names how its figure was obtained and under which assumption;
it holds no per-render number (those are in `inputs`), so a report can group renders by method.
"""

from __future__ import annotations

import os
import re
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pynvml

JOULES_PER_KWH = 3.6e6
POWERCAP = Path("/sys/class/powercap")
# CodeCarbon's fallback for CPUs missing from its TDP table: 4 W per hardware thread at full load.
CPU_WATTS_PER_THREAD = 4.0
# Used only when a cuda render has no NVML at all: a stated guess at a data-centre GPU's draw under load.
GPU_WATTS_ASSUMED = 300.0
RAPL_SAMPLE_SECONDS = 30.0


@dataclass
class ComponentEnergy:
    """One part of the machine (gpu, cpu): its energy, and whether it was measured or estimated, and how."""

    joules: float
    measured: bool
    method: str
    inputs: dict[str, object] = field(default_factory=dict)  # the numbers an estimate was made from

    @property
    def kwh(self) -> float:
        return self.joules / JOULES_PER_KWH

    def to_json(self) -> dict:
        return {"joules": self.joules, "kwh": self.kwh, "measured": self.measured, "method": self.method,
                "inputs": dict(self.inputs)}


@dataclass
class EnergyReading:
    """What a render used, per component, with measured and estimated parts kept apart."""

    device: str
    seconds: float
    components: dict[str, ComponentEnergy]

    @property
    def kwh_measured(self) -> float:
        return sum((c.kwh for c in self.components.values() if c.measured), 0.0)

    @property
    def kwh_estimated(self) -> float:
        return sum((c.kwh for c in self.components.values() if not c.measured), 0.0)

    @property
    def kwh_total(self) -> float:
        return self.kwh_measured + self.kwh_estimated

    def to_json(self) -> dict:
        return {"device": self.device, "seconds": self.seconds,
                "components": {name: c.to_json() for name, c in self.components.items()},
                "kwh_measured": self.kwh_measured, "kwh_estimated": self.kwh_estimated, "kwh_total": self.kwh_total}

    @classmethod
    def from_json(cls, data: dict) -> EnergyReading:
        components = {name: ComponentEnergy(c["joules"], c["measured"], c["method"], c.get("inputs", {}))
                      for name, c in data["components"].items()}
        return cls(data["device"], data["seconds"], components)


# -- CPU: RAPL -------------------------------------------------------------------------------

def find_rapl_zones(root: Path = POWERCAP) -> tuple[list[Path], str | None]:
    """The readable RAPL package zones under `root`, or ([], why not).

    Only top-level `intel-rapl:N` zones named `package-*` are summed: sub-zones (core, uncore,
    dram) are parts of a package or would mix domains, and `psys` would count the packages twice.
    AMD CPUs use the same zone names.
    """
    if not root.is_dir():
        return [], f"no RAPL counters on this machine ({root} is absent)"
    zones = []
    for zone in sorted(root.glob("intel-rapl:*")):
        if not re.fullmatch(r"intel-rapl:\d+", zone.name):
            continue
        try:
            if not (zone / "name").read_text().strip().startswith("package"):
                continue
        except OSError:
            continue
        zones.append(zone)
    if not zones:
        return [], f"no RAPL package zones under {root}"
    try:
        for zone in zones:
            int((zone / "energy_uj").read_text())
            int((zone / "max_energy_range_uj").read_text())
    except PermissionError:
        return [], f"RAPL counters under {root} are readable by root only (Linux ≥ 5.10)"
    except (OSError, ValueError) as exc:
        return [], f"RAPL counters under {root} could not be read ({exc})"
    return zones, None


class RaplCounters:
    """Sums the energy of RAPL package zones from construction on, across counter wraparounds."""

    def __init__(self, zones: list[Path]):
        self.zones = zones
        self.ranges = [int((z / "max_energy_range_uj").read_text()) for z in zones]
        self.last = [self._read(z) for z in zones]
        self.total_uj = 0
        self._lock = threading.Lock()  # sampled by the meter's thread and by stop()

    @staticmethod
    def _read(zone: Path) -> int:
        return int((zone / "energy_uj").read_text())

    def sample(self) -> None:
        """Add what each zone used since the last read; a smaller value means the counter wrapped once."""
        with self._lock:
            for i, zone in enumerate(self.zones):
                now = self._read(zone)
                delta = now - self.last[i]
                if delta < 0:
                    delta += self.ranges[i]
                self.total_uj += delta
                self.last[i] = now

    @property
    def joules(self) -> float:
        return self.total_uj / 1e6

    def method(self) -> str:
        return (f"measured: RAPL package energy counters {', '.join(str(z) for z in self.zones)} "
                "(the whole CPU package: every process on it is counted)")


# -- CPU: estimate ---------------------------------------------------------------------------

def process_cpu_seconds() -> float:
    """CPU time of this process (all its threads) plus the child processes it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_estimate_method(watts_per_thread: float, why: str) -> str:
    return (f"estimated: CPU time of this process (all threads, plus child processes it waited for) × "
            f"{watts_per_thread:g} W per busy hardware thread (CodeCarbon's fallback for CPUs not in its "
            f"TDP table); idle draw, RAM and other processes not counted; {why}")


# -- GPU: NVML -------------------------------------------------------------------------------

def cuda_index(device: str) -> int:
    """'cuda:N' → N; plain 'cuda' → torch's current device when torch is loaded, else 0."""
    if ":" in device:
        return int(device.split(":", 1)[1])
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.current_device()
    return 0


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_handle(pynvml, index: int):
    """NVML's handle for CUDA device `index`, and a label for it.

    NVML numbers GPUs by PCI bus; CUDA (with CUDA_VISIBLE_DEVICES, or its default fastest-first
    order) may number them otherwise. So match by UUID when torch is loaded and can tell it, then
    by CUDA_VISIBLE_DEVICES, and only then assume the numbers agree.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        uuid = str(torch.cuda.get_device_properties(index).uuid)
        uuid = uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"
        return pynvml.nvmlDeviceGetHandleByUUID(uuid), uuid
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if index < len(visible):
        entry = visible[index]
        if entry.startswith(("GPU-", "MIG-")):
            return pynvml.nvmlDeviceGetHandleByUUID(entry), entry
        if entry.isdigit():
            return pynvml.nvmlDeviceGetHandleByIndex(int(entry)), f"GPU {entry}"
    return pynvml.nvmlDeviceGetHandleByIndex(index), f"GPU {index}"


class NvmlEnergy:
    """The GPU's NVML energy counter (mJ) at start; `joules()` gives the energy used since."""

    def __init__(self, index: int):
        self.pynvml = pynvml
        pynvml.nvmlInit()
        try:
            self.handle, self.label = nvml_handle(pynvml, index)
            self.name = _text(pynvml.nvmlDeviceGetName(self.handle))
            self.start_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except BaseException:
            pynvml.nvmlShutdown()
            raise

    def joules(self) -> float:
        return (self.pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self.start_mj) / 1000.0

    def power_limit_watts(self) -> float | None:
        try:
            return self.pynvml.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1000.0
        except Exception:  # noqa: BLE001 — any NVML failure just means "no limit known"
            return None

    def method(self) -> str:
        return (f"measured: NVML total energy counter of {self.name} ({self.label}; the whole board: "
                "every process on this GPU is counted)")

    def close(self) -> None:
        self.pynvml.nvmlShutdown()


# -- the meter -------------------------------------------------------------------------------

class EnergyMeter:
    """Meters one render: `start()`, render, `stop()` → EnergyReading. Also a context manager.

    Construction does no I/O. Reading energy must never break a render, so every failure of
    NVML or RAPL turns into an estimate whose method says what failed.
    """

    def __init__(self, device: str = "cpu", *, powercap: Path = POWERCAP,
                 cpu_watts_per_thread: float = CPU_WATTS_PER_THREAD, gpu_watts: float = GPU_WATTS_ASSUMED,
                 sample_seconds: float = RAPL_SAMPLE_SECONDS):
        self.device = str(device)
        self.powercap = Path(powercap)
        self.cpu_watts_per_thread = cpu_watts_per_thread
        self.gpu_watts = gpu_watts
        self.sample_seconds = sample_seconds
        self.reading: EnergyReading | None = None
        self._running = False

    @property
    def uses_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def start(self) -> EnergyMeter:
        if self._running:
            raise RuntimeError("EnergyMeter already started")
        self.reading = None
        self._rapl: RaplCounters | None = None
        self._gpu: NvmlEnergy | None = None
        self._gpu_why = ""
        zones, self._cpu_why = find_rapl_zones(self.powercap)
        if zones:
            try:
                self._rapl = RaplCounters(zones)
            except (OSError, ValueError) as exc:
                self._cpu_why = f"RAPL counters could not be read ({exc})"
        if self.uses_gpu:
            try:
                self._gpu = NvmlEnergy(cuda_index(self.device))
            except Exception as exc:  # noqa: BLE001 — ImportError, NVMLError, a bad index: all mean "no counter"
                self._gpu_why = f"NVML unavailable ({type(exc).__name__}: {exc})"
        self._stop_sampling = threading.Event()
        self._sampler = None
        if self._rapl is not None:
            self._sampler = threading.Thread(target=self._sample_rapl, name="energy-rapl", daemon=True)
            self._sampler.start()
        self._cpu0 = process_cpu_seconds()
        self._t0 = time.perf_counter()
        self._running = True
        return self

    def _sample_rapl(self) -> None:
        while not self._stop_sampling.wait(self.sample_seconds):
            try:
                self._rapl.sample()
            except (OSError, ValueError):
                return  # stop() reads again and reports the failure

    def stop(self) -> EnergyReading:
        if not self._running:
            raise RuntimeError("EnergyMeter.stop() without start()")
        seconds = time.perf_counter() - self._t0
        cpu_seconds = process_cpu_seconds() - self._cpu0
        self._running = False
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join()
        components: dict[str, ComponentEnergy] = {}
        if self.uses_gpu:
            components["gpu"] = self._gpu_energy(seconds)
        components["cpu"] = self._cpu_energy(cpu_seconds)
        self.reading = EnergyReading(self.device, seconds, components)
        return self.reading

    def _gpu_energy(self, seconds: float) -> ComponentEnergy:
        why, limit = self._gpu_why, None
        if self._gpu is not None:
            try:
                return ComponentEnergy(self._gpu.joules(), True, self._gpu.method())
            except Exception as exc:  # noqa: BLE001 — e.g. NVMLError_NotSupported on pre-Volta boards or MIG
                why = f"no NVML energy counter for {self._gpu.name} ({type(exc).__name__}: {exc})"
                limit = self._gpu.power_limit_watts()
            finally:
                self._gpu.close()
        if limit:
            method = (f"estimated: wall time × the board's enforced power limit from NVML (an upper bound); {why}")
            return ComponentEnergy(seconds * limit, False, method, {"seconds": seconds, "watts": limit})
        method = f"estimated: wall time × {self.gpu_watts:g} W assumed GPU draw under load (a guess, not a reading); {why}"
        return ComponentEnergy(seconds * self.gpu_watts, False, method, {"seconds": seconds, "watts": self.gpu_watts})

    def _cpu_energy(self, cpu_seconds: float) -> ComponentEnergy:
        why = self._cpu_why
        if self._rapl is not None:
            try:
                self._rapl.sample()
                return ComponentEnergy(self._rapl.joules, True, self._rapl.method())
            except (OSError, ValueError) as exc:
                why = f"RAPL counters could not be read at the end ({exc})"
        return ComponentEnergy(cpu_seconds * self.cpu_watts_per_thread, False,
                               cpu_estimate_method(self.cpu_watts_per_thread, why),
                               {"cpu_seconds": cpu_seconds, "watts_per_thread": self.cpu_watts_per_thread})

    def __enter__(self) -> EnergyMeter:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if self._running:  # not stopped by the caller (e.g. the render raised): release NVML and the thread
            self.stop()
