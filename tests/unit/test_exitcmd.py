"""The monitor's exit command: the command line it is given, and the CLI's click-free parse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pycore.runtime.exitcmd import cleanup_argv, parse_cleanup

CID = "ab" * 32


def test_the_command_line_parses_back() -> None:
    argv = cleanup_argv("/var/lib/pycore", CID, ["v1", "v2"])
    assert argv is not None and argv[0] == sys.executable and "-m" not in argv
    rest = argv[3:]
    assert rest[:4] == ["--root", "/var/lib/pycore", "container", "cleanup"]
    assert parse_cleanup(rest[4:]) == (CID, ("v1", "v2"))
    assert parse_cleanup(["--volume=v3", CID]) == (CID, ("v3",))


@pytest.mark.parametrize(
    "args", [[], ["--volume"], ["--volume", "v"], [CID, CID], ["--force", CID], ["-h"]]
)
def test_other_shapes_are_left_to_click(args: list[str]) -> None:
    assert parse_cleanup(args) is None


def test_the_exit_command_loads_no_click(tmp_path: Path) -> None:
    """What a monitor runs: pycore's entry under `python -c`, parsed without click (a `stop`
    of a bridged container waits for it); a container that is gone is nothing to do."""
    argv = cleanup_argv(str(tmp_path), CID)
    assert argv is not None
    code = argv[2] + "\n"
    probe = [argv[0], "-S", "-X", "importtime", "-c", code, *argv[3:]]
    env = {"PYTHONPATH": ":".join(p for p in sys.path if p)}
    out = subprocess.run(probe, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    imported = {ln.rsplit("|", 1)[1].strip() for ln in out.stderr.splitlines() if "|" in ln}
    assert "pycore.cli" in imported
    assert not imported & {"click", "runpy", "typing"}
