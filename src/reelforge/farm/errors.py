"""What can stop a farm render, with the exit code the command line gives it."""

from __future__ import annotations


class FarmError(Exception):
    """A farm render that cannot start or go on. `code`: 2 bad input (an address, a node's files), 1 otherwise."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code
