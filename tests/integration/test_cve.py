"""The two container-escape CVEs against real containers, `run` and `exec` alike:
CVE-2019-5736 (the host binary of the process entering the container, reached through
/proc/<pid>/exe: written to, or run through `#!/proc/self/exe`) and CVE-2024-21626 (a host
fd or working directory of the caller reaching the container)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore import _native
from tests.helpers.containers import Run, busybox_root, cli_with_teardown

pytestmark = pytest.mark.root

MONITOR = Path(_native.__file__).parent / "_bin" / "pycore-monitor"

# A stand-in for an attacker's ld.so: when the kernel runs a dynamically linked host binary
# inside the container, it loads /lib64/ld-linux-x86-64.so.2 from the container, i.e. this.
# It records that host code was started, what /proc/self/exe is, and tries to write it.
FAKE_LD_SO = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char exe[512] = {0}, fdp[64];
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    FILE *log = fopen("/ld.log", "a");
    fprintf(log, "host code ran: exe=%s\n", exe);
    int w = open("/proc/self/exe", O_WRONLY);
    fprintf(log, "open wronly: %s\n", w < 0 ? strerror(errno) : "WRITABLE");
    int p = open("/proc/self/exe", O_PATH);
    snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", p);
    w = open(fdp, O_RDWR);
    fprintf(log, "reopen rdwr: %s\n", w < 0 ? strerror(errno) : "WRITABLE");
    return 42;
}
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _host_binaries() -> dict[Path, str]:
    paths = [Path(os.path.realpath(sys.executable)), Path(_native.__file__)]
    if MONITOR.exists():
        paths.append(MONITOR)
    return {p: _sha256(p) for p in paths}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "cve")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


@pytest.fixture
def fake_ld_so(tmp_path: Path) -> bytes:
    src = tmp_path / "ld.c"
    src.write_text(FAKE_LD_SO)
    out = tmp_path / "ld.so"
    subprocess.run(["gcc", "-O1", "-static-pie", "-o", str(out), str(src)], check=True)
    return out.read_bytes()


def _start(pc: Run, name: str, *opts: str) -> None:
    r = pc("run", "-d", "--network", "none", "--name", name, *opts, "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr


def _plant_shebang(pc: Run, name: str, ld_so: bytes) -> None:
    """/x starts `#!/proc/self/exe`; the fake ld.so sits where a host binary's loader is."""
    put = "mkdir -p /lib64 && cat > /lib64/ld-linux-x86-64.so.2 && chmod 755 /lib64/*"
    r = pc("exec", "-i", name, "sh", "-c", put, input=ld_so, text=False)
    assert r.returncode == 0, r.stderr
    script = "printf '#!/proc/self/exe\\necho script ran\\n' > /x && chmod 755 /x"
    assert pc("exec", name, "sh", "-c", script).returncode == 0


@pytest.mark.needs("gcc")
def test_shebang_proc_self_exe_runs_no_host_binary(pc: Run, fake_ld_so: bytes) -> None:
    """`#!/proc/self/exe`: binfmt_script resolves the interpreter before the new image
    replaces the old one, so it would be the binary of the process entering the container
    (python for exec, pycore-monitor for run). That binary is exec'd from a mount made
    noexec: the exec fails (126), no host code runs and nothing is written."""
    before = _host_binaries()
    _start(pc, "sb")
    _plant_shebang(pc, "sb", fake_ld_so)
    r = pc("exec", "sb", "/x")
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    assert "script ran" not in r.stdout
    r = pc("exec", "sb", "sh", "-c", "cat /ld.log 2>/dev/null; true")
    assert r.stdout == "", r.stdout
    assert _host_binaries() == before


@pytest.mark.needs("gcc")
def test_shebang_proc_self_exe_as_the_container_command(
    pc: Run, fake_ld_so: bytes, tmp_path: Path
) -> None:
    """`pycore run` of a `#!/proc/self/exe` script: the init is a clone of the monitor."""
    before = _host_binaries()
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "x").write_text("#!/proc/self/exe\necho script ran\n")
    (vol / "x").chmod(0o755)
    (vol / "lib64").mkdir()
    (vol / "lib64" / "ld-linux-x86-64.so.2").write_bytes(fake_ld_so)
    (vol / "lib64" / "ld-linux-x86-64.so.2").chmod(0o755)
    r = pc(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{vol / 'lib64'}:/lib64",
        "-v",
        f"{vol}:/v",
        "busybox",
        "/v/x",
    )
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    assert "script ran" not in r.stdout
    assert not (vol / "ld.log").exists()
    # Also with the reaper (`--init`): pid 1 stays the monitor's code.
    r = pc(
        "run",
        "--rm",
        "--init",
        "--network",
        "none",
        "-v",
        f"{vol / 'lib64'}:/lib64",
        "-v",
        f"{vol}:/v",
        "busybox",
        "/v/x",
    )
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    assert _host_binaries() == before


ATTACK = (
    # Every process whose exe is not the container's busybox is the one entering the
    # container: open its exe O_PATH (fd 5), then try to write it through /proc/self/fd/5
    # (the CVE-2019-5736 exploit's reopen, which waits out ETXTBSY) and directly.
    "end=$(($(date +%s) + 5)); n=0; "
    "while [ $(date +%s) -lt $end ]; do "
    "  for e in /proc/[0-9]*/exe; do "
    '    t=$(readlink $e 2>/dev/null); case "$t" in /bin/busybox|"") continue;; esac; '
    '    echo "saw $e $t" >> /tmp/attack.log; '
    '    (exec 5<"$e" && echo pwned >> /proc/self/fd/5) 2>>/tmp/attack.err '
    '      && echo "wrote $e" >> /tmp/attack.log; '
    '    (echo pwned >> "$e") 2>>/tmp/attack.err && echo "wrote $e" >> /tmp/attack.log; '
    "  done; n=$((n+1)); "
    "done; echo loops=$n >> /tmp/attack.log"
)


@pytest.mark.parametrize("caps", [(), ("--cap-add", "SYS_PTRACE")], ids=["default", "ptrace"])
def test_proc_exe_of_the_joining_process_cannot_be_written(pc: Run, caps: tuple[str, ...]) -> None:
    """CVE-2019-5736 adapted: a container process loops over /proc/*/exe while `pycore exec`
    runs repeatedly. Non-dumpable hides the joining process's exe from it by default; with
    CAP_SYS_PTRACE (no user namespace) it sees it, and finds a read-only mount."""
    before = _host_binaries()
    _start(pc, "atk", *caps)
    assert pc("exec", "-d", "atk", "sh", "-c", ATTACK).returncode == 0
    deadline = time.monotonic() + 5
    execs = 0
    while time.monotonic() < deadline:
        assert pc("exec", "atk", "true").returncode == 0
        execs += 1
    time.sleep(0.5)
    log = pc("exec", "atk", "cat", "/tmp/attack.log").stdout
    assert "loops=" in log and execs > 5, log
    assert "wrote" not in log, log
    if not caps:
        assert "saw" not in log, log
    assert _host_binaries() == before


def test_no_host_fd_or_cwd_in_run_or_exec(pc: Run, tmp_path: Path) -> None:
    """CVE-2024-21626: the CLI started with extra fds (one a directory fd on the host's /)
    passes none of them on, and `-w /proc/self/fd/N` cannot put the working directory
    outside the container."""
    host_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    host_dir = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fds = (host_root, host_dir)
    for fd in fds:
        os.set_inheritable(fd, True)
    show = "ls /proc/self/fd | tr '\\n' ' '; echo; readlink /proc/self/cwd; ls /proc/$$/fd; true"
    try:
        r = pc("run", "--rm", "--network", "none", "busybox", "sh", "-c", show, pass_fds=fds)
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["0", "1", "2", "3"], r.stdout
        assert lines[1] == "/" and lines[2:] == ["0", "1", "2"], r.stdout
        _start(pc, "fd")
        r = pc("exec", "fd", "sh", "-c", show, pass_fds=fds)
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["0", "1", "2", "3"], r.stdout
        assert lines[1] == "/" and lines[2:] == ["0", "1", "2"], r.stdout
        for fd in fds:
            leak = f"/proc/self/fd/{fd}"
            r = pc("run", "--rm", "--network", "none", "-w", leak, "busybox", "pwd", pass_fds=fds)
            assert r.returncode != 0 or r.stdout.startswith("/proc"), (r.stdout, r.stderr)
            r = pc("exec", "-w", leak, "fd", "sh", "-c", "pwd; ls", pass_fds=fds)
            assert r.returncode != 0 or r.stdout.startswith("/proc"), (r.stdout, r.stderr)
            assert str(tmp_path.name) not in r.stdout
    finally:
        for fd in fds:
            os.close(fd)
