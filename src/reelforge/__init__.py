"""reelforge: deterministic, bring-your-own-compute rendering of AI video series."""

from importlib.metadata import PackageNotFoundError, version

# From the installed package's metadata (pyproject.toml), not written here: this file runs with
# every render module, so it is part of every render-code hash, and a new version number alone
# must not re-render a season.
try:
    __version__ = version("reelforge")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+source"
