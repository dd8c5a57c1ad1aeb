"""Fixtures for the whole suite: a store root per test, the `pycore` CLI as a subprocess, and
the root marker policy (tests marked `root` or `needs(tool)` fail under CI=true when
unmet, else skip)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RunPycore = Callable[..., "subprocess.CompletedProcess[str]"]


def _is_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*tools): host tools the test drives; missing fails under CI=true"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    needs = item.get_closest_marker("needs")
    if needs is not None:
        missing = [t for t in needs.args if shutil.which(t) is None and not Path(t).exists()]
        if missing:
            _unavailable(f"needs {', '.join(missing)} (installed by scripts/install.sh)")
    if item.get_closest_marker("root") is not None and os.geteuid() != 0:
        _unavailable("needs root")


def _unavailable(why: str) -> None:
    # CI installs every tool and runs as root: there a missing one is a failure, never a skip.
    if _is_ci():
        pytest.fail(f"{why}, and CI=true", pytrace=False)
    pytest.skip(why)


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
