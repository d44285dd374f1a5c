"""Who is acting: the name every commit, render, approval and change-log entry carries."""

from __future__ import annotations

import getpass
import os


def current_actor() -> str:
    """Who is rendering or committing: REELFORGE_ACTOR, else the login name."""
    try:
        return os.environ.get("REELFORGE_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
