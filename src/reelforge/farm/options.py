"""Which farm a render uses: plain data, importable without Ray (which takes a second to import)."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL = "local"  # `--farm` alone: a Ray instance on this machine, for this process


@dataclass(frozen=True)
class FarmOptions:
    address: str = LOCAL  # LOCAL, "auto", HOST:PORT (a node of the cluster) or ray://HOST:PORT (Ray Client)
    cpus: int | None = None  # a LOCAL instance's size (default: what Ray counts on this machine)
    gpus: int | None = None  # may be declared on a machine without one (tests run the GPU actor path so)
