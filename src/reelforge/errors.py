"""Errors a user can fix: every problem points at a place in their spec file.

A spec is hand-written JSON, so a failure is reported as a list of problems,
each with the JSON path of the offending value (`$.episodes[0].scenes[1].shots[2]`)
and a plain sentence, rather than as a traceback. The CLI prints a `SpecError`
as-is and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (a JSON path, root `$`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(Exception):
    """A spec file could not be loaded; carries every problem found, not just the first."""

    def __init__(self, file: str | Path, problems: Iterable[Problem]) -> None:
        self.file = Path(file)
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{self.file}: {count} problem{'' if count == 1 else 's'}"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)
