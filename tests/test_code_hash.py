"""The render-code hash cannot go stale: it covers every module the render code imports, and nothing is skipped.

Every job key holds the hash of its backend's render code (plan/code_hash.py), so a stored frame
is reused only while that code is unchanged. The hash finds the code by reading import
statements; these tests check it against grimp (the import graph import-linter reads) and
against what Python actually loads, and show that an edit anywhere in it changes the hash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from reelforge.backends.registry import get_backend
from reelforge.plan.code_hash import (
    BACKEND_ENTRIES,
    ENCODE_ENTRIES,
    FINISHING_ENTRY,
    PACKAGE_FOLDER,
    CodeGraph,
    RenderCodeMissing,
    encode_code_hash,
    render_code_hash,
    render_modules,
)
from reelforge.spec.model import BACKENDS


def with_parents(modules: set[str]) -> set[str]:
    """The modules and every package above them (importing a module runs its packages' __init__)."""
    return modules | {".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 1)}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("reelforge", exclude_type_checking_imports=True, cache_dir=None)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the reelforge sources to edit."""
    copy = tmp_path / "reelforge"
    shutil.copytree(PACKAGE_FOLDER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_every_backend_has_an_entry_module_that_builds_it():
    assert set(BACKEND_ENTRIES) == set(BACKENDS)
    for name in BACKENDS:
        assert type(get_backend(name)).__module__ == BACKEND_ENTRIES[name]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_hash_covers_every_module_a_backend_or_the_post_chain_imports(backend, graph):
    entries = {BACKEND_ENTRIES[backend], FINISHING_ENTRY}
    imported = set(entries)
    for entry in entries:
        imported |= graph.find_upstream_modules(entry)
    missing = with_parents(imported) - set(render_modules(backend))
    assert not missing, f"render code of {backend} imports modules outside its hash: {sorted(missing)}"


def test_the_encode_hash_covers_every_module_the_encoder_imports(graph):
    imported = set(ENCODE_ENTRIES)
    for entry in ENCODE_ENTRIES:
        imported |= graph.find_upstream_modules(entry)
    assert with_parents(imported) <= set(CodeGraph().closure(ENCODE_ENTRIES))
    assert {"reelforge.media.encode", "reelforge.media.yuv"} <= imported  # the encoder and RGB→YUV


@pytest.mark.parametrize("entry", sorted(set(BACKEND_ENTRIES.values())))
def test_python_loads_no_reelforge_module_outside_the_hash_when_it_imports_the_render_code(entry):
    backend = next(name for name, module in BACKEND_ENTRIES.items() if module == entry)
    script = ("import importlib, json, sys\n"
              f"importlib.import_module({entry!r}); importlib.import_module({FINISHING_ENTRY!r})\n"
              "print(json.dumps(sorted(m for m in sys.modules if m == 'reelforge' or m.startswith('reelforge.'))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                       check=True).stdout)
    assert set(loaded) <= set(render_modules(backend))


def test_previz_keys_leave_the_generative_code_and_the_front_ends_out():
    previz = render_modules("previz")
    assert not any(m.startswith(("reelforge.backends.sdxl", "reelforge.backends.clips", "reelforge.cli",
                                 "reelforge.studio", "reelforge.app", "reelforge.engine")) for m in previz)


@pytest.mark.parametrize("backend", BACKENDS)
def test_planning_validation_and_records_stay_out_of_every_render_code_hash(backend):
    """An edit to how a spec is read, planned or recorded must not re-render a season: only the code that draws."""
    outside = ("reelforge.spec.load", "reelforge.spec.json_problems", "reelforge.spec.styles", "reelforge.spec.model",
               "reelforge.plan.jobs", "reelforge.plan.look", "reelforge.plan.lighting", "reelforge.plan.cast",
               "reelforge.plan.code_hash", "reelforge.store.paths", "reelforge.store.catalog", "reelforge.store.schema",
               "reelforge.records", "reelforge.trust", "reelforge.deliver", "reelforge.media")
    assert not [m for m in render_modules(backend) if m.startswith(outside)]


def test_an_edit_to_any_covered_module_changes_the_hash_and_one_elsewhere_does_not(package):
    code = CodeGraph(package)
    modules = code.closure((BACKEND_ENTRIES["previz"], FINISHING_ENTRY))
    before = code.digest(modules)
    for module in modules:
        source = code.file(module)
        original = source.read_bytes()
        source.write_bytes(original + b"\n# an edit\n")
        assert code.digest(modules) != before, f"an edit to {module} left the render-code hash as it was"
        source.write_bytes(original)
    (package / "cli" / "console.py").write_text("# an edit outside the render code\n", encoding="utf-8")
    assert code.digest(code.closure((BACKEND_ENTRIES["previz"], FINISHING_ENTRY))) == before


@pytest.mark.parametrize("statement", ["import reelforge.previz.moved", "from reelforge.plan.gone import seed"])
def test_a_render_code_import_of_a_module_that_is_not_there_is_an_error(package, statement):
    """Never skipped: a path that does not exist would silently drop code from every job key."""
    camera = package / "previz" / "camera.py"
    camera.write_text(camera.read_text(encoding="utf-8") + f"\n\ndef later():\n    {statement}\n", encoding="utf-8")
    with pytest.raises(RenderCodeMissing, match=statement.split()[1]):
        CodeGraph(package).closure((BACKEND_ENTRIES["previz"], FINISHING_ENTRY))


def test_a_moved_module_is_followed_to_its_new_place(package):
    """Moving a module the render code imports keeps it in the hash, and changes the hash (its path moved)."""
    code = CodeGraph(package)
    before = code.digest(code.closure((BACKEND_ENTRIES["previz"], FINISHING_ENTRY)))
    shutil.move(package / "plan" / "seeds.py", package / "plan" / "derivation.py")
    for module in package.rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        if "reelforge.plan.seeds" in text:
            module.write_text(text.replace("reelforge.plan.seeds", "reelforge.plan.derivation"), encoding="utf-8")
    modules = code.closure((BACKEND_ENTRIES["previz"], FINISHING_ENTRY))
    assert "reelforge.plan.derivation" in modules and "reelforge.plan.seeds" not in modules
    assert code.digest(modules) != before


def test_imports_that_only_type_checkers_read_are_not_followed(package):
    pipeline = package / "post" / "pipeline.py"
    pipeline.write_text(pipeline.read_text(encoding="utf-8")
                        + "\n\nif TYPE_CHECKING:\n    from reelforge.cli import console\n", encoding="utf-8")
    assert "reelforge.cli" not in CodeGraph(package).closure((FINISHING_ENTRY,))


def test_the_hashes_are_stable_in_one_process():
    assert render_code_hash("previz") == CodeGraph().digest(render_modules("previz"))
    assert len(encode_code_hash()) == 64
