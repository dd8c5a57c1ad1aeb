"""The start path's import budget: modules whose load costs every `pycore run` milliseconds,
and what a fresh interpreter has loaded after running a piece of code."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    *("click", "dataclasses", "inspect", "typing", "hashlib", "subprocess", "shutil", "signal"),
    *("secrets", "socket", "datetime", "concurrent.futures", "pathlib", "re", "enum", "json"),
    *("contextlib", "collections", "functools", "ipaddress", "urllib", "fnmatch", "warnings"),
)


def heavy_loaded(code: str) -> list[str]:
    """Which of HEAVY a fresh `python3 -S` (no site-packages `.pth` files: this host has one
    that imports certifi, and with it most of HEAVY) has loaded after running `code`, with
    pycore from the tree the tests run."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": ":".join(p for p in sys.path if p)},
    )
    return [m for m in out.stdout.strip().split(",") if m]
