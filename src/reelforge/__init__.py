"""reelforge: deterministic, bring-your-own-compute rendering of AI video series."""

__version__ = "0.1.0"
