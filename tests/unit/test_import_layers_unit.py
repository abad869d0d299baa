"""The run-directory writer (miglink.outputs) uses the site-file writer, never the reverse:
a cycle between them made the site file's gate depend on a function-local import."""

import ast
import importlib.util
import subprocess
import sys


def _imported_modules(module: str) -> set[str]:
    path = importlib.util.find_spec(module).origin
    tree = ast.parse(open(path, encoding="utf-8").read())
    out: set[str] = set()
    for node in ast.walk(tree):  # every import, function-local ones too
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_site_writer_does_not_import_outputs():
    assert "miglink.outputs" not in _imported_modules("miglink.federate.site")


def test_outputs_and_site_import_in_either_order():
    for first, second in (
        ("miglink.federate.site", "miglink.outputs"),
        ("miglink.outputs", "miglink.federate.site"),
    ):
        code = f"import {first}, {second}; print({first}.__name__)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
