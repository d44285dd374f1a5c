"""The production spec as written: the typed model of every control, presets, and loading that names every problem."""
