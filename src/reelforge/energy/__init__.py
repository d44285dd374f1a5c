"""Energy per render: meters (NVML, RAPL, a named estimate) and the `reelforge energy` report.

`EnergyMeter(device).start()` … `.stop()` gives an `EnergyReading`; the catalog keeps it with the
render (`Catalog.record_energy`), and `report.energy_report` turns the rows into kWh per render
and per finished minute, with a datacentre PUE applied for comparison.
"""

from reelforge.energy.meters import ComponentEnergy, EnergyMeter, EnergyReading

__all__ = ["ComponentEnergy", "EnergyMeter", "EnergyReading"]
