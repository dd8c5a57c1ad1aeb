"""Fixtures for the whole suite: a store root per test, the `pycore` CLI as a subprocess, and
the root marker policy (tests marked `root` fail under CI=true without root, else skip)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RunPycore = Callable[..., "subprocess.CompletedProcess[str]"]


def _is_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") is None or os.geteuid() == 0:
        return
    if _is_ci():
        pytest.fail("this test needs root, and CI=true: run the suite as root", pytrace=False)
    pytest.skip("needs root")


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    """A fresh, not yet initialised store root (pycore creates it on first use)."""
    return tmp_path / "root"


@pytest.fixture
def pycore(store_root: Path) -> RunPycore:
    """Run `python -m pycore --root <store_root> ARGS...`; returns the CompletedProcess
    (text mode, stdout and stderr captured, never raising on a non-zero exit).

    Keyword arguments go to subprocess.run (e.g. `input=`, `timeout=`, `env=`)."""

    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("timeout", 120)
        env = dict(os.environ)
        env.pop("PYCORE_DEBUG", None)
        env.pop("PYCORE_ROOT", None)
        kwargs.setdefault("env", env)
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [sys.executable, "-m", "pycore", "--root", str(store_root), *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL if "input" not in kwargs else None,
            **kwargs,
        )

    return run
