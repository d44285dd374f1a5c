"""Errors a generative render raises for a job the model cannot take (kept free of heavy imports)."""


class ModelRenderError(Exception):
    """The model refused or failed a job (a size it cannot take, out of memory): the message says which."""
