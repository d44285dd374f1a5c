"""The render-code hash: part of every job key, so a stored frame is never reused across a code
change that could alter it.

The code that turns a resolved job into pixels is found by reading import statements, never
by a list of paths (a list goes stale the day a file moves, and a stale list silently drops the
moved file from every key): a backend's own module, every reelforge module it imports, at the
top of a file or inside a function, to any depth, the packages those modules live in (their
`__init__.py` runs too), and the post chain that finishes every frame. Imports under
`if TYPE_CHECKING:` never run and are not followed. A module that cannot be found is an error,
never skipped. Planning is covered by the job's own fields, so planning code is outside the
hash unless the render code imports it.

The encode hash does the same for the code from frames to a segment's bytes (RGB→YUV, the
encoder settings, the muxer): part of every segment key.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

ENGINE_VERSION = "0.2.0"  # raised whenever job keys must change for a reason the code hash cannot see

PACKAGE = "reelforge"
PACKAGE_FOLDER = Path(__file__).resolve().parent.parent

# Where each backend's render code starts (backends/registry.py builds these classes), and the
# post chain the engine runs on every backend's picture (post/pipeline.py: finish_frame).
BACKEND_ENTRIES: dict[str, str] = {
    "previz": "reelforge.backends.previz",
    "sdxl": "reelforge.backends.sdxl",
    "animatediff": "reelforge.backends.clips",
    "animatediff-sdxl": "reelforge.backends.clips",
    "wan": "reelforge.backends.clips",
}
FINISHING_ENTRY = "reelforge.post.pipeline"
ENCODE_ENTRIES = ("reelforge.media.encode",)


class RenderCodeMissing(Exception):
    """Render code imports a reelforge module that does not exist: the hash would not cover it."""


class CodeGraph:
    """The reelforge modules a module imports, read from the source files under `folder`."""

    def __init__(self, folder: Path = PACKAGE_FOLDER, package: str = PACKAGE):
        self.folder = Path(folder)
        self.package = package

    def file(self, module: str) -> Path | None:
        """`a.b` → <folder>/b.py or <folder>/b/__init__.py (the package's own name is `folder`)."""
        parts = module.split(".")[1:]
        base = self.folder.joinpath(*parts)
        for candidate in (base.with_suffix(".py") if parts else None, base / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None

    def closure(self, entries: tuple[str, ...]) -> tuple[str, ...]:
        """Every module the entries run when imported and called: imports followed to any depth, parent packages included."""
        found: set[str] = set()
        waiting = list(entries)
        while waiting:
            module = waiting.pop()
            if module in found:
                continue
            if self.file(module) is None:
                raise RenderCodeMissing(f"the render code imports {module}, which has no source file under "
                                        f"{self.folder}: the render-code hash cannot cover it")
            found.add(module)
            waiting += self._parents(module) + sorted(self.imports(module))
        return tuple(sorted(found))

    def _parents(self, module: str) -> list[str]:
        parts = module.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    def imports(self, module: str) -> set[str]:
        """The package's modules that `module` imports anywhere except under `if TYPE_CHECKING:`."""
        path = self.file(module)
        tree = ast.parse(path.read_bytes(), filename=str(path))
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node, module, is_package)
                found.add(base)
                for alias in node.names:  # `from a import b`: b may be a module of package a
                    if alias.name != "*" and self.file(f"{base}.{alias.name}") is not None:
                        found.add(f"{base}.{alias.name}")
        return {name for name in found if name == self.package or name.startswith(self.package + ".")}

    @staticmethod
    def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
        if not node.level:
            return node.module or ""
        parts = module.split(".")
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        return ".".join(anchor + ([node.module] if node.module else []))

    def digest(self, modules: tuple[str, ...]) -> str:
        """SHA-256 over the engine version and each module's path and source, in name order."""
        digest = hashlib.sha256(f"reelforge-engine/{ENGINE_VERSION}\n".encode())
        for module in sorted(modules):
            path = self.file(module)
            digest.update(path.relative_to(self.folder).as_posix().encode() + b"\n")
            digest.update(path.read_bytes())
        return digest.hexdigest()


def _runtime_nodes(tree: ast.AST):
    """Every node of `tree` except those inside `if TYPE_CHECKING:` bodies (they never run)."""
    waiting = [tree]
    while waiting:
        node = waiting.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            waiting += node.orelse
            continue
        waiting += ast.iter_child_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def render_modules(backend: str) -> tuple[str, ...]:
    """The modules whose source can change the pixels a backend renders."""
    return CodeGraph().closure((BACKEND_ENTRIES[backend], FINISHING_ENTRY))


@functools.cache
def render_code_hash(backend: str = "previz") -> str:
    """SHA-256 over one backend's render code (its import closure), in a stable order."""
    return CodeGraph().digest(render_modules(backend))


@functools.cache
def encode_code_hash() -> str:
    """SHA-256 over the code from frames to segment bytes (a change re-encodes every segment)."""
    graph = CodeGraph()
    return graph.digest(graph.closure(ENCODE_ENTRIES))
