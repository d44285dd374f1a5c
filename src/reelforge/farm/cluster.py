"""Joining Ray: a local instance on this machine, or a cluster the studio started with Ray's own `ray start`.

reelforge manages no cluster of its own: `ray start --head` on one machine and
`ray start --address=HEAD:PORT` on the others (docs/farm.md) make the farm; a render joins
it as a driver. Ray's token authentication stays as Ray sets it up (on by default).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

import ray
from ray._private.authentication.authentication_token_setup import (
    maybe_enable_token_auth_if_token_available,
)

from reelforge.farm.errors import FarmError
from reelforge.farm.options import LOCAL, FarmOptions

CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class FarmNode:
    node_id: str
    host: str
    address: str
    cpus: float
    gpus: float


def join(options: FarmOptions) -> None:
    """Connect this process to the farm the options name (LOCAL, "auto", HOST:PORT or ray://HOST:PORT), once."""
    if ray.is_initialized():  # the Open Studio renders many times in one process, on one farm
        return
    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray's start-up chatter is not the render's output
    address = options.address
    _check_reachable(address)
    try:
        if address == LOCAL:
            ray.init(address="local", num_cpus=options.cpus, num_gpus=options.gpus,  # never a running cluster
                     include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        else:
            # `ray start --head` turns token authentication on, but Ray sends the token
            # (~/.ray/auth_token or $RAY_AUTH_TOKEN) to an explicit address only in token mode.
            # This is Ray's own switch for `address="auto"` (pinned Ray: a private module): token
            # mode when a token is there, and an explicit RAY_AUTH_MODE always wins.
            maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError… depending on the address
        if "AuthToken" in f"{exc} {exc.__cause__}":
            raise FarmError(f"--farm {address}: the cluster refused this machine's Ray token: copy the head's "
                            "~/.ray/auth_token to this machine (or set RAY_AUTH_TOKEN), see docs/farm.md",
                            code=2) from None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FarmError(f"--farm {address}: cannot join a Ray cluster there ({reason}); start one with "
                        "`ray start --head` and give its address, or `--farm` alone for this machine "
                        "(docs/farm.md)", code=2) from None


def _check_reachable(address: str) -> None:
    """A HOST:PORT nothing listens on is said at once (Ray itself retries it for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        if address not in (LOCAL, "auto"):
            raise FarmError(f"--farm {address}: give HOST:PORT (the head's `ray start --head --port`), "
                            "ray://HOST:PORT, auto, or --farm alone for this machine", code=2)
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise FarmError(f"--farm {address}: nothing answers there ({exc.strerror or exc}); start the head with "
                        "`ray start --head --port PORT` and check the address (docs/farm.md)", code=2) from None


def leave() -> None:
    """Disconnect (and stop a LOCAL instance this process started)."""
    if ray.is_initialized():
        ray.shutdown()


def alive_nodes() -> list[FarmNode]:
    """The cluster's live nodes with what each offers."""
    return [FarmNode(node["NodeID"], node["NodeManagerHostname"], node["NodeManagerAddress"],
                     node["Resources"].get("CPU", 0.0), node["Resources"].get("GPU", 0.0))
            for node in ray.nodes() if node["Alive"]]
