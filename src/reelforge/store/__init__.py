"""Bytes on disk by content: the `.reelforge/` layout, atomic writes, frames, journals, segments, assets, catalog tables."""
