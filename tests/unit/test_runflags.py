"""`pycore run`'s click-free parser reads every command line it accepts exactly as click does,
and leaves every other one to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from pycore.cli import runflags
from pycore.cli.app import load_all
from pycore.cli.runflags import DETACH, EXEC_FLAGS, RUN_FLAGS, NotFast, parse

ACCEPTED = [
    ["busybox"],
    ["busybox", "true"],
    ["--rm", "busybox", "sh", "-c", "echo hi; exit 3"],
    ["-d", "-p", "8080:80", "-v", "data:/data", "-e", "K=V", "--name", "web", "img"],
    ["-dit", "--name=web", "img"],
    ["-eA=1", "-e", "B=2", "--env=C=3", "--env", "D", "img", "env"],
    ["-itd", "-w/tmp", "-u", "1000:1000", "img", "ls", "-l", "--all"],
    ["--network", "none", "--net=host", "img"],
    ["-c", "512", "--pids-limit=20", "-m", "64m", "--cpus", "0.5", "img"],
    ["--cap-add", "NET_ADMIN", "--cap-drop=ALL", "--security-opt", "no-new-privileges", "i"],
    ["--entrypoint", "", "img", "--rm"],
    ["--", "img", "-d"],
    ["--mount", "type=tmpfs,target=/t", "--tmpfs", "/run:size=1m", "-l", "a=b", "img"],
    ["-P", "--expose", "80", "--link", "db:db", "--net-alias", "x", "--ip", "10.1.0.5", "i"],
    ["--read-only", "--privileged", "--init", "--restart", "on-failure:3", "img"],
    ["-h", "box", "img"],
]

REFUSED = [
    [],  # no image
    ["--rm"],  # no image after the options
    ["--help"],
    ["--bogus", "img"],
    ["-Z", "img"],
    ["-c", "lots", "img"],  # not an int: click words the error
    ["--rm=yes", "img"],
    ["--name"],  # a value missing
]


def _click_parse(argv: list[str]) -> dict[str, Any]:
    load_all()
    from pycore.cli.containers import run_cmd

    with run_cmd.make_context("run", list(argv), resilient_parsing=False) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize("argv", ACCEPTED, ids=lambda a: " ".join(a) or "-")
def test_fast_parser_agrees_with_click(argv: list[str]) -> None:
    assert parse(argv, (*RUN_FLAGS, DETACH)) == _click_parse(argv)


@pytest.mark.parametrize("argv", REFUSED, ids=lambda a: " ".join(a) or "-")
def test_fast_parser_leaves_the_rest_to_click(argv: list[str]) -> None:
    with pytest.raises(NotFast):
        parse(argv, (*RUN_FLAGS, DETACH))


def test_global_options_and_other_commands_go_to_click() -> None:
    assert runflags.fast_command(["--version"]) is None
    assert runflags.fast_command(["ps", "-a"]) is None
    assert runflags.fast_command(["--root"]) is None
    assert runflags.fast_command(["run", "--help"]) is None
    assert runflags.fast_command(["--root", "/x", "container", "create", "--bogus", "i"]) is None


def test_every_click_option_of_run_comes_from_the_table() -> None:
    load_all()
    from pycore.cli.containers import create_cmd, run_cmd

    table = {f.dest for f in RUN_FLAGS}
    run_opts = {p.name for p in run_cmd.params if isinstance(p, click.Option)}
    create_opts = {p.name for p in create_cmd.params if isinstance(p, click.Option)}
    assert run_opts == table | {"detach"}
    assert create_opts == table


@pytest.mark.parametrize(
    ("argv", "code", "err"),
    [
        (
            ["run", "--rm", "no-such-image", "true"],
            125,
            "pycore: Unable to find image 'no-such-image:latest' locally; "
            "no registry is named to pull it from",
        ),
        (["exec", "nosuch", "true"], 125, "pycore: No such container: nosuch"),
        (["rm", "-f", "nosuch"], 0, "pycore: No such container: nosuch"),
    ],
    ids=["run", "exec", "rm"],
)
def test_the_fast_commands_do_not_import_click(
    argv: list[str], code: int, err: str, tmp_path: Path
) -> None:
    """The point of the fast path: `pycore run` (and exec, rm, ...) never imports click."""
    probe = (
        "import sys\n"
        "from pycore.cli import main\n"
        f"code = main(['--root', '{tmp_path}', *{argv!r}])\n"
        "print(code, 'click' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == f"{code} False", out.stderr
    assert out.stderr.strip() == err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--bogus", "busybox"], "No such option '--bogus'"),
        (["run"], "Missing argument 'IMAGE'"),
        (["ps", "--bogus"], "No such option '--bogus'"),
        (["run", "--restart", "sometimes", "busybox"], "invalid restart policy"),
    ],
)
def test_usage_errors_exit_125_in_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As Docker's CLI: an unknown flag or a missing argument is pycore's error (125), said
    in one line, and nothing is made."""
    from pycore.cli import main

    assert main(["--root", str(tmp_path / "store"), *argv]) == 125
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "store" / "containers").exists() or not os.listdir(
        tmp_path / "store" / "containers"
    )


EXEC_ACCEPTED = [
    ["web", "true"],
    ["-it", "web", "sh"],
    ["-d", "-e", "A=1", "--env=B=2", "-u", "1000:1000", "-w/tmp", "web", "ls", "-l"],
    ["--interactive", "--tty", "--user=nobody", "--workdir", "/", "web", "sh", "-c", "x"],
    ["--", "web", "-d"],
]
EXEC_REFUSED = [["web"], [], ["--help"], ["--privileged", "web", "true"], ["-e"]]


def _click_exec(argv: list[str]) -> dict[str, Any]:
    load_all()
    from pycore.cli.container_ops import exec_cmd

    with exec_cmd.make_context("exec", list(argv), resilient_parsing=False) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize("argv", EXEC_ACCEPTED, ids=" ".join)
def test_fast_exec_parser_agrees_with_click(argv: list[str]) -> None:
    assert parse(argv, EXEC_FLAGS, "container") == _click_exec(argv)


@pytest.mark.parametrize("argv", EXEC_REFUSED, ids=lambda a: " ".join(a) or "-")
def test_fast_exec_leaves_the_rest_to_click(argv: list[str], tmp_path: Path) -> None:
    assert runflags.fast_command(["--root", str(tmp_path), "exec", *argv]) is None


def test_every_click_option_of_exec_comes_from_the_table() -> None:
    load_all()
    from pycore.cli.container_ops import exec_cmd

    assert {p.name for p in exec_cmd.params if isinstance(p, click.Option)} == {
        f.dest for f in EXEC_FLAGS
    }


REF_ACCEPTED = [
    ("rm", ["a"]),
    ("rm", ["-f", "a", "b"]),
    ("rm", ["-fv", "a"]),
    ("rm", ["--force", "--volumes", "a"]),
    ("stop", ["a"]),
    ("stop", ["-t", "0", "a", "b"]),
    ("stop", ["--time=3", "-s", "SIGINT", "a"]),
    ("kill", ["a"]),
    ("kill", ["-s", "HUP", "a"]),
    ("kill", ["--signal=9", "a", "b"]),
    ("wait", ["a", "b"]),
    ("start", ["a"]),
    ("start", ["-ai", "a"]),
]
REF_REFUSED = [
    ("rm", []),
    ("rm", ["a", "-f"]),  # an option after a container: click's to read
    ("rm", ["--help"]),
    ("stop", ["-t", "soon", "a"]),
    ("kill", ["-s"]),
    ("wait", ["-x", "a"]),
]


def _click_ref(name: str, argv: list[str]) -> dict[str, Any]:
    load_all()
    from pycore.cli import containers

    cmd = getattr(containers, f"{name}_cmd")
    with cmd.make_context(name, list(argv), resilient_parsing=False) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(("name", "argv"), REF_ACCEPTED, ids=lambda a: str(a))
def test_fast_ref_parser_agrees_with_click(name: str, argv: list[str]) -> None:
    from pycore.cli import refcmds

    assert runflags.parse_refs(argv, refcmds.FLAGS[name]) == _click_ref(name, argv)


@pytest.mark.parametrize(("name", "argv"), REF_REFUSED, ids=lambda a: str(a))
def test_fast_ref_commands_leave_the_rest_to_click(
    name: str, argv: list[str], tmp_path: Path
) -> None:
    assert runflags.fast_command(["--root", str(tmp_path), name, *argv]) is None


def test_every_click_option_of_the_ref_commands_comes_from_a_table() -> None:
    load_all()
    from pycore.cli import containers, refcmds

    for name, flags in refcmds.FLAGS.items():
        cmd = getattr(containers, f"{name}_cmd")
        assert {p.name for p in cmd.params if isinstance(p, click.Option)} == {
            f.dest for f in flags
        }, name
