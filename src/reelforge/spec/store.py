"""How much of the frame store a production keeps: a size budget and how long superseded work stays.

Sizes are written as people write them ("200 GB", "1.5 TiB", "750MB"; GB = 10⁹ bytes, GiB = 2³⁰)
and ages in days ("30d"; "0d": no grace period). `reelforge store gc --older-than` takes the same
ages, so one parser serves the spec and the command line.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from reelforge.spec.base import Strict

UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")
AGE = re.compile(r"^\s*(\d{1,5})\s*d\s*$")
DEFAULT_KEEP_SUPERSEDED = "30d"


def parse_size(text: str) -> int:
    """Bytes in a size such as "200 GB" or "1.5 TiB"; ValueError saying what is accepted."""
    match = SIZE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in UNITS:
        raise ValueError(f"{text!r} is not a size: write a number and a unit, e.g. \"200 GB\" or \"1.5 TiB\" "
                         f"(units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return int(float(match.group(1)) * UNITS[unit])


def format_size(count: int) -> str:
    """Bytes as people read them, in the decimal units a budget is written in: "14.2 GB", "850 MB", "0 B"."""
    for unit in ("TB", "GB", "MB", "KB"):
        if count >= UNITS[unit]:
            value = count / UNITS[unit]
            return f"{value:.1f}".removesuffix(".0") + f" {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{count} B"


def parse_age_days(text: str) -> int:
    """Days in an age such as "30d" ("0d": none); ValueError saying what is accepted."""
    match = AGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an age: write whole days, e.g. \"30d\" (\"0d\": right away)")
    return int(match.group(1))


class StoreSettings(Strict):
    """The production's frame store policy (`reelforge store du | gc`, and the render's budget warning)."""

    budget: str | None = Field(None, description="the store's size budget, e.g. \"200 GB\": `render` warns "
                                                 "before a render would pass it, `status` shows the size")
    keep_superseded: str = Field(DEFAULT_KEEP_SUPERSEDED,
                                 description="how long `reelforge store gc` keeps frames and segments that no "
                                             "latest render, approval or delivered file needs, e.g. \"30d\"")

    @field_validator("budget")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v is not None and parse_size(v) == 0:
            raise ValueError(f"a budget of {v} leaves no room for any frame: give a size above 0, e.g. \"200 GB\"")
        return v

    @field_validator("keep_superseded")
    @classmethod
    def _age(cls, v: str) -> str:
        parse_age_days(v)
        return v

    @property
    def budget_bytes(self) -> int | None:
        return None if self.budget is None else parse_size(self.budget)

    @property
    def keep_superseded_days(self) -> int:
        return parse_age_days(self.keep_superseded)
