"""`pycore exec` against real containers: namespaces, environment, user, working directory,
exit codes, stdio (-i, -t, -d), errors, and the two CVEs behind its design (host fds,
CVE-2024-21626; the host binary through /proc/<pid>/exe, CVE-2019-5736)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore import _native
from tests.helpers.containers import Run, busybox_root, cli_with_teardown

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "exec")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


@pytest.fixture
def box(pc: Run) -> Iterator[str]:
    """A running container named `box` (hostname `inner`, FROM_RUN=1 in its env)."""
    r = pc(
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "box",
        "-h",
        "inner",
        "-e",
        "FROM_RUN=1",
        "busybox",
        "sleep",
        "300",
    )
    assert r.returncode == 0, r.stderr
    yield "box"
    pc("rm", "-f", "box")


def test_exec_sees_the_container(pc: Run, box: str) -> None:
    assert pc("exec", box, "hostname").stdout == "inner\n"
    r = pc("exec", box, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$; ls /proc")
    lines = r.stdout.splitlines()
    assert lines[0] == "sleep 300 "  # pid 1 of its pid namespace is the container's init
    pids = sorted(int(p) for p in lines[2:] if p.isdigit())
    assert 1 in pids and int(lines[1]) in pids and max(pids) < 100, pids
    # Same mount namespace: a file written by one exec is seen by the next.
    assert pc("exec", box, "sh", "-c", "echo hi > /tmp/f").returncode == 0
    assert pc("exec", box, "cat", "/tmp/f").stdout == "hi\n"


def test_env_user_and_workdir(pc: Run, box: str) -> None:
    r = pc("exec", "-e", "FOO=bar", box, "sh", "-c", "echo $FROM_RUN $FOO $HOME; pwd; id")
    assert r.stdout.splitlines() == ["1 bar /root", "/", "uid=0(root) gid=0(root) groups=0(root)"]
    r = pc("exec", "-u", "nobody", "-w", "/tmp", box, "sh", "-c", "id -u; pwd; echo $HOME")
    assert r.stdout.split() == ["65534", "/tmp", "/nonexistent"]
    assert pc("exec", "-u", "1000:1001", box, "id").stdout == "uid=1000 gid=1001 groups=1001\n"
    r = pc("exec", "-u", "nosuchuser", box, "true")
    assert r.returncode == 125 and "unable to find user nosuchuser" in r.stderr
    r = pc("exec", "-w", "/nonexistent", box, "true")
    assert r.returncode == 125 and "/nonexistent" in r.stderr
    # A user added inside the running container is found (its /etc/passwd, not the image's).
    add = "echo 'app:x:4242:4242::/home/app:/bin/sh' >> /etc/passwd"
    assert pc("exec", box, "sh", "-c", add).returncode == 0
    assert pc("exec", "-u", "app", box, "id", "-u").stdout == "4242\n"


def test_exit_codes(pc: Run, box: str) -> None:
    assert pc("exec", box, "sh", "-c", "exit 7").returncode == 7
    r = pc("exec", box, "nosuchcommand")
    assert r.returncode == 127 and 'exec "nosuchcommand"' in r.stderr
    assert pc("exec", box, "/etc/passwd").returncode == 126
    assert pc("exec", box, "sh", "-c", "kill -9 $$").returncode == 137


def test_exec_into_a_container_that_is_not_running(pc: Run) -> None:
    cid = pc("create", "--network", "none", "busybox", "true").stdout.strip()
    r = pc("exec", cid, "true")
    assert r.returncode == 1
    assert r.stderr.strip() == f"pycore: container {cid} is not running"
    assert pc("start", cid).returncode == 0
    assert pc("wait", cid).stdout.strip() == "0"
    assert pc("exec", cid, "true").returncode == 1
    r = pc("exec", "nosuchcontainer", "true")
    assert r.returncode == 125 and "No such container: nosuchcontainer" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    pc("rm", cid)


def test_the_same_confinement_as_the_container(pc: Run) -> None:
    r = pc(
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "nnp",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sleep",
        "60",
    )
    assert r.returncode == 0, r.stderr
    r = pc("exec", "nnp", "cat", "/proc/self/status")
    status = dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)
    assert status["CapEff"].strip() == "00000000a80425fb"
    assert status["CapBnd"].strip() == "00000000a80425fb"
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "1"
    assert pc("exec", "nnp", "mount", "-t", "tmpfs", "t", "/mnt").returncode != 0
    r = pc("exec", "-u", "1000", "nnp", "grep", "CapEff", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", "0000000000000000"]
    pc("rm", "-f", "nnp")


def test_no_host_fd_reaches_the_process(pc: Run, box: str, tmp_path: Path) -> None:
    """CVE-2024-21626: an fd of the caller (here fd 7 on a host directory) never reaches
    the exec'd process; it has 0, 1 and 2 only (`ls` adds its own directory fd, 3)."""
    host_dir = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(host_dir, True)
    try:
        r = pc("exec", box, "ls", "/proc/self/fd", pass_fds=(host_dir,))
        assert r.stdout.split() == ["0", "1", "2", "3"], r.stdout
        r = pc("exec", box, "sh", "-c", "ls /proc/$$/fd; true", pass_fds=(host_dir,))
        assert r.stdout.split() == ["0", "1", "2"], r.stdout
    finally:
        os.close(host_dir)
    # The cwd is inside the container's root, never a host directory.
    assert pc("exec", box, "sh", "-c", "cd .. && cd .. && pwd && ls /").stdout.startswith("/\n")


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_host_binaries_cannot_be_reached_through_proc_exe(pc: Run, box: str) -> None:
    """CVE-2019-5736: the exec'd process's /proc/<pid>/exe is the container's binary, not
    the host's; while the joining process still runs a host binary it is non-dumpable, so a
    container process looping over /proc/*/exe to open them for writing gets nowhere."""
    r = pc("exec", box, "sh", "-c", "readlink /proc/$$/exe")
    assert r.stdout == "/bin/busybox\n"
    targets = [os.path.realpath(sys.executable), _native.__file__]
    before = {t: _sha256(t) for t in targets}
    attack = (
        "end=$(($(date +%s) + 6)); n=0; "
        "while [ $(date +%s) -lt $end ]; do "
        "  for e in /proc/[0-9]*/exe; do "
        '    case "$(readlink $e 2>/dev/null)" in /bin/busybox|"") continue;; esac; '
        '    echo "saw $e $(readlink $e)" >> /tmp/attack.log; '
        '    (echo pwned >> "$e") 2>/dev/null && echo "wrote $e" >> /tmp/attack.log; '
        "  done; n=$((n+1)); "
        "done; echo loops=$n >> /tmp/attack.log"
    )
    assert pc("exec", "-d", box, "sh", "-c", attack).returncode == 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        assert pc("exec", box, "true").returncode == 0
    time.sleep(0.5)
    log = pc("exec", box, "cat", "/tmp/attack.log").stdout
    assert "loops=" in log
    assert "wrote" not in log, log
    # Nothing of the host's was ever visible as an exe: only the container's busybox.
    assert "saw" not in log, log
    assert {t: _sha256(t) for t in targets} == before


def test_interactive_stdin_and_detach(pc: Run, box: str) -> None:
    r = pc("exec", "-i", box, "sh", "-c", "cat; echo done", input="line1\nline2\n")
    assert r.stdout == "line1\nline2\ndone\n"
    # Without -i, stdin is /dev/null: cat ends at once.
    r = pc("exec", box, "cat", input="ignored\n")
    assert (r.returncode, r.stdout) == (0, "")
    t = time.monotonic()
    r = pc("exec", "-d", box, "sh", "-c", "sleep 1; echo later > /tmp/d")
    assert (r.returncode, r.stdout) == (0, "")
    assert time.monotonic() - t < 1
    for _ in range(100):
        if pc("exec", box, "cat", "/tmp/d").stdout == "later\n":
            break
        time.sleep(0.05)
    assert pc("exec", box, "cat", "/tmp/d").stdout == "later\n"
    # The detached process was reaped: no zombie in the container.
    ps = pc("exec", box, "ps", "-o", "stat,comm").stdout
    assert " Z " not in ps and "Z " not in ps.split("\n", 1)[-1], ps


def test_tty(pc: Run, box: str) -> None:
    r = pc("exec", "-t", box, "sh", "-c", "[ -t 0 ] || echo in-not-tty; [ -t 1 ] && echo out-tty")
    assert r.stdout.replace("\r", "") == "in-not-tty\nout-tty\n"
    r = pc("exec", "-it", box, "sh", "-c", "[ -t 0 ] && read x && echo got-$x", input="abc\n")
    assert r.returncode == 0
    assert "got-abc" in r.stdout.replace("\r", "")


def test_exec_is_listed_in_the_container_and_inspect_stays_running(pc: Run, box: str) -> None:
    assert pc("exec", "-d", box, "sleep", "30").returncode == 0
    r = pc("exec", box, "ps", "-o", "comm")
    assert r.stdout.split().count("sleep") == 2
    state = json.loads(pc("inspect", box).stdout)[0]["State"]
    assert state["Running"] is True


def test_stdout_and_stderr_stay_apart(pc: Run, box: str) -> None:
    r = pc("exec", box, "sh", "-c", "echo out; echo err >&2; echo out2")
    assert (r.stdout, r.stderr) == ("out\nout2\n", "err\n")
    big = pc("exec", box, "sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x")
    assert big.stdout == "x" * 300000
