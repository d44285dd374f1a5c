"""Imports are written at the top of a module; inside a function only where that keeps start-up fast.

The layer contract itself (each layer imports only those below it, no import cycles, imports
inside functions included) is import-linter's, run by `lint-imports` (.ci/run, pyproject.toml).
This test keeps the other half of the rule: an import hidden in a function hides a dependency,
so only the imports that cost real start-up time may be deferred, each for a reason named here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import reelforge

SOURCES = Path(reelforge.__file__).resolve().parent

# What may be imported inside a function, and why.
DEFERRABLE = {
    "torch": "seconds to import; planning and previz renders never need it",
    "diffusers": "seconds to import (it imports torch)",
    "transformers": "seconds to import (it imports torch)",
    "peft": "imports torch",
    "safetensors.torch": "imports torch",
    "colour": "half a second to import; only a colour temperature needs it",
    "unittest.mock": "the stand-ins colour-science leaves behind, looked for only once colour is loaded",
    "c2pa": "its native library takes ~0.1 s to load; most commands never sign or read credentials",
    "opentimelineio": "~0.1 s to import; only `reelforge export otio` needs it",
    "reelforge.farm.runner": "imports Ray (a second); only a --farm render needs it",
    "reelforge.studio.server": "FastAPI and uvicorn take ~0.5 s; only `reelforge studio` needs them",
    "reelforge.backends.previz": "a render loads only the backend it renders with",
    "reelforge.backends.sdxl": "a render loads only the backend it renders with",
    "reelforge.backends.clips": "a render loads only the backend it renders with",
}


def deferred_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import written inside a function of `path`."""
    found = []
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    found += [(node.lineno, alias.name) for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    found += [(node.lineno, f"{base}.{alias.name}" if base == "reelforge.backends" else base)
                              for alias in node.names]
    return found


def allowed(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in DEFERRABLE)


def test_imports_inside_functions_are_only_those_that_keep_start_up_fast():
    hidden = [f"{path.relative_to(SOURCES.parent)}:{line}: {module}"
              for path in sorted(SOURCES.rglob("*.py")) for line, module in deferred_imports(path)
              if not allowed(module)]
    assert not hidden, "import these at the top of the module (or add a reason to DEFERRABLE):\n" + "\n".join(hidden)


def test_the_command_line_starts_without_torch_or_the_web_app():
    script = "import sys, reelforge.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    for heavy in ("torch", "diffusers", "transformers", "fastapi", "uvicorn", "colour", "c2pa", "opentimelineio"):
        assert f"'{heavy}'" not in loaded, f"`import reelforge.cli` loads {heavy}"
