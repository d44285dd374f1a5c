"""Render backends: a backend turns a resolved ShotJob into RGB frames (backends/registry.py).

No downloads at run time, ever: a checkpoint is a local folder or file. The environment is set
here, in the package every backend module is imported through, before any of them can import
diffusers or transformers, which read it at import.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
