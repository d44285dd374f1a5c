"""Energy per render: meters (NVML, RAPL, a named estimate), the per-render and per-minute report, its charts.

`EnergyMeter(device).start()` … `.stop()` gives an `EnergyReading`; the catalog keeps it with the
render (`Catalog.record_energy`), and `report.energy_report` turns the rows into kWh per render
and per finished minute, with a datacentre PUE applied for comparison (`reelforge energy`: cli/energy.py).
"""

from reelforge.energy.meters import ComponentEnergy, EnergyMeter, EnergyReading

__all__ = ["ComponentEnergy", "EnergyMeter", "EnergyReading"]
