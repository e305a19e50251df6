"""The package's shape (docs/architecture.md): imports flow one way, no circles, small modules,
and an entry point TensorBoard can import at every start without loading gensim."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

import tensorboard_plugin_w2v

PACKAGE_DIR = os.path.dirname(tensorboard_plugin_w2v.__file__)
ROOT = os.path.dirname(PACKAGE_DIR)
HEAVY = ("gensim", "scipy", "faiss", "marisa_trie")
MAX_MODULE_LINES = 500


def package_modules() -> dict[str, str]:
    """Module name → file, for every module of the package."""
    found = {}
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
                found[module.removesuffix(".__init__")] = path
    return found


def imported_modules(module: str, path: str, known: dict[str, str]) -> set[str]:
    """Package modules ``module`` imports anywhere in its file (functions and TYPE_CHECKING too)."""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_import_contracts_of_pyproject_are_kept():
    """The layers and forbidden imports declared in pyproject.toml ([tool.importlinter])."""
    cli = pytest.importorskip("importlinter.cli")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert cli.lint_imports(no_cache=True, no_logo=True) == 0
    finally:
        os.chdir(cwd)


def test_no_import_circles():
    modules = package_modules()
    graph = {m: imported_modules(m, p, modules) for m, p in modules.items()}
    assert "tensorboard_plugin_w2v.models.store" in graph["tensorboard_plugin_w2v.server.catalog"]
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_500_lines():
    sizes = {m: sum(1 for _ in open(p, encoding="utf-8")) for m, p in package_modules().items()}
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def fresh_interpreter(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_entry_point_and_the_plugin_module_import_nothing_heavy():
    loaded = fresh_interpreter(
        f"""
        import sys
        import tensorboard_plugin_w2v.loader
        loader = sorted(m for m in {HEAVY!r} if m in sys.modules)
        import tensorboard_plugin_w2v.server.plugin
        plugin = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print(loader, plugin)
        """
    )
    assert loaded == "[] []"


def test_the_documented_imports_still_work_and_load_lazily():
    out = fresh_interpreter(
        """
        import sys
        import tensorboard_plugin_w2v as package
        before = "gensim" in sys.modules
        from tensorboard_plugin_w2v import load_model, queries, evaluation, comparison, LoadedModel
        from tensorboard_plugin_w2v.loader import Word2VecLoader
        from tensorboard_plugin_w2v.summary import TrainingLogger, log_model
        from tensorboard_plugin_w2v.projector import export_model
        print(before, callable(load_model), queries.neighbors.__module__, evaluation.builtin("analogies").kind)
        """
    )
    assert out == "False True tensorboard_plugin_w2v.analysis.queries analogies"


def test_the_plugin_imports_the_heavy_modules_in_the_background_when_the_tab_opens(tmp_path):
    out = fresh_interpreter(
        f"""
        import sys, threading
        from tensorboard.backend.application import TensorBoardWSGI
        from tensorboard.plugins import base_plugin
        from werkzeug.test import Client
        from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin
        plugin = Word2VecPlugin(base_plugin.TBContext(logdir={str(tmp_path)!r}, flags=None))
        Client(TensorBoardWSGI([plugin])).get("/data/plugins_listing")  # TensorBoard has started
        started = sorted(m for m in {HEAVY!r} if m in sys.modules)
        Client(TensorBoardWSGI([plugin])).get("/data/plugin/word2vec/models")  # the tab opens
        warm = [t for t in threading.enumerate() if t.name == "w2v-warm-up"]
        for t in warm:
            t.join(120)
        print(started, len(warm), sorted(m for m in {HEAVY!r} if m in sys.modules), plugin.close())
        """
    )
    assert out == "[] 1 ['gensim', 'marisa_trie', 'scipy'] []"


def test_after_the_warm_up_full_collections_leave_the_startup_objects_alone(tmp_path):
    """What is alive once the warm-up imports are done is frozen out of the cyclic garbage
    collector: a full collection that walked TensorBoard's objects stopped every request for
    0.2-0.3 s. Afterwards it walks only the objects made since."""
    out = fresh_interpreter(
        f"""
        import gc, threading
        from tensorboard.plugins import base_plugin
        from tensorboard_plugin_w2v.server import plugin as module
        plugin = module.Word2VecPlugin(base_plugin.TBContext(logdir={str(tmp_path)!r}, flags=None))
        walked_before = len(gc.get_objects())
        for t in [t for t in threading.enumerate() if t.name == "w2v-warm-up"]:
            t.join(120)
        walked_after = len(gc.get_objects())
        print(gc.get_freeze_count() > walked_before, walked_after < walked_before // 10, plugin.close())
        """
    )
    assert out == "True True []"


def test_the_plugin_warms_its_heavy_imports_soon_after_start_without_a_request(tmp_path):
    out = fresh_interpreter(
        f"""
        import sys, threading
        from tensorboard.plugins import base_plugin
        from tensorboard_plugin_w2v.server import plugin as module
        plugin = module.Word2VecPlugin(base_plugin.TBContext(logdir={str(tmp_path)!r}, flags=None))
        started = sorted(m for m in {HEAVY!r} if m in sys.modules)
        for t in [t for t in threading.enumerate() if t.name == "w2v-warm-up"]:
            t.join(120)
        print(started, module.WARM_UP_DELAY_SECONDS <= 2, sorted(m for m in {HEAVY!r} if m in sys.modules), plugin.close())
        """
    )
    assert out == "[] True ['gensim', 'marisa_trie', 'scipy'] []"
