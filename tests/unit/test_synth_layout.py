"""The synthetic generator stays within the house limits (issue 14) and free of import cycles.

Guards the split of synth/model.py and synth/catalogue.py: no module over 600 lines, no
function over 80, and the synth modules import one another in one direction only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import miglink.synth

SYNTH = Path(miglink.synth.__file__).parent


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SYNTH.glob("*.py"))}


def test_synth_modules_and_functions_are_small():
    for p in sorted(SYNTH.glob("*.py")):
        lines = p.read_text(encoding="utf-8").count("\n")
        assert lines <= 600, f"{p.name} has {lines} lines"
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= 80, f"{name}.{node.name} has {length} lines"


def _synth_imports(tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):  # function-local imports too
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "miglink.synth":
                out.update(a.name for a in node.names)
            elif node.module.startswith("miglink.synth."):
                out.add(node.module.removeprefix("miglink.synth.").split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("miglink.synth."):
                    out.add(a.name.removeprefix("miglink.synth.").split(".")[0])
    return out


def test_synth_modules_have_no_import_cycle():
    mods = _modules()
    graph = {m: _synth_imports(t) & set(mods) - {"__init__", m} for m, t in mods.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for dep in sorted(graph[m]):
            assert state.get(dep) != 1, "import cycle: " + " -> ".join(path + [m, dep])
            if dep not in state:
                visit(dep, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
