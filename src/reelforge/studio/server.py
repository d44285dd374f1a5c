"""`reelforge studio`: serve one production on this machine and print a one-time login URL."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from reelforge.farm.options import FarmOptions
from reelforge.studio.app import create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """Host headers a loopback server accepts (a defence against DNS rebinding); None (any) otherwise."""
    if not is_loopback(host):
        return None
    return {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}


def login_url(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/login?token={token}"


class StudioServer(uvicorn.Server):
    """Ends the open event streams first on Ctrl+C, so open pages do not hold the shutdown."""

    def __init__(self, config: uvicorn.Config, state) -> None:
        super().__init__(config)
        self.studio_state = state

    def handle_exit(self, sig, frame) -> None:
        self.studio_state.queue.close_streams()
        super().handle_exit(sig, frame)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (IPv6 when the host is one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def serve(spec: Path, *, host: str, port: int, owner: str, say: Callable[[str], None],
          warn: Callable[[str], None], farm: FarmOptions | None = None) -> None:
    app, state = create_app(spec, owner=owner, allowed_hosts=allowed_hosts(host, port), farm=farm)
    if not is_loopback(host):
        warn(f"the studio listens on {host}, not only this machine: anyone who can reach {host}:{port} and "
             "gets a login link can edit and render this production. Traffic is plain HTTP.")
    listener = bind(host, port)  # bound before the URL is printed: a taken port is an OSError for the CLI
    token = state.logins.issue_token(owner)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2)
    server = StudioServer(config, state)
    say(f"Open Studio for {spec} — logged in as {owner}.\nOpen this link (it works once):\n  "
        f"{login_url(host, port, token)}\nPress Ctrl+C to stop.")
    server.run(sockets=[listener])
