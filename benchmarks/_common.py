"""Shared by the benchmark scripts: running a measured step in its own process, the machine line."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import psutil

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_json(cmd: list[str], log: Path | None = None, miglink: bool = True) -> dict:
    """Run ``cmd`` in a subprocess; its last stdout line is a JSON object (stderr to ``log``)."""
    env = dict(os.environ)
    if miglink:
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    if log is not None:
        with open(log, "w") as err:
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        tail = log.read_text()[-3000:]
    else:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        tail = p.stderr[-3000:]
    if p.returncode != 0:
        raise SystemExit(tail)
    return json.loads(p.stdout.strip().splitlines()[-1])


def child(code: str, *args: str) -> dict:
    """Run Python ``code`` (with miglink importable) in a fresh interpreter; its JSON result."""
    return run_json([sys.executable, "-c", code, *args])


def machine() -> str:
    return (
        f"Machine: {platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
