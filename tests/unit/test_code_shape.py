"""The shape bars of issue 14, kept true by the suite: no source file in src/miglink over 600
lines, no function over 80 lines, and no import cycle between miglink modules (counting every
import, function-local ones too: a cycle hidden in a function is still a cycle of knowledge)."""

from __future__ import annotations

import ast
from pathlib import Path

import miglink

SRC = Path(miglink.__file__).parent
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(SRC.rglob("*.py")):
        rel = p.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + [base])
                base = base.rstrip(".")
            for a in node.names:  # "from miglink.designs import d1" names a module
                sub = f"{base}.{a.name}"
                found.add(sub if sub in known else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def test_no_source_file_over_600_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"


def test_no_function_over_80_lines():
    long = []
    for p in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{p.relative_to(SRC)}:{node.name} ({n})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {sorted(long)}"


def test_no_import_cycle():
    mods = _modules()
    known = set(mods)
    graph = {m: _imports(m, p, known) for m, p in mods.items()}
    # a package's __init__ importing its own submodules is not a cycle of knowledge
    for m in graph:
        graph[m] = {d for d in graph[m] if not d.startswith(m + ".")}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:10])


def test_the_cycle_detector_finds_a_cycle(tmp_path):
    """The detector itself can fail: two modules importing each other are found."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import b\n")
    b.write_text("from a import x\n")
    known = {"a", "b"}
    assert _imports("a", a, known) == {"b"} and _imports("b", b, known) == {"a"}


def test_no_module_imports_another_modules_private_names():
    """Modules talk through public functions (the pooled run, for one, uses the same public
    functions as a local run); a private name imported across modules is a hidden coupling."""
    found = []
    for p in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("miglink"):
                for a in node.names:
                    private = a.name.startswith("_") and not a.name.startswith("__")
                    if private and a.name != "_compat":  # the ibis/duckdb shim module
                        found.append(f"{p.relative_to(SRC)}: {node.module}.{a.name}")
    assert not found, found
