"""The `docker run --rm` reference row of benches/run.py: a dockerd of its own, timed, then gone.

    python3 benches/docker_ref.py --runs 21 --image busybox.tar   # prints one JSON object

Needs Debian's `docker.io` (dockerd 20.10, which pulls in containerd, runc and tini) and uses
that package's own client, /usr/bin/docker (the /usr/local/bin/docker 28.x client is not used).
The image is the archive `pycore save busybox` wrote, loaded with `docker load`.

How dockerd runs (the exact argv is in the JSON output and printed by run.py):

- Everything private and temporary under one /dev/shm/pycore-bench-docker-* directory:
  --data-root, --exec-root (dockerd starts its own containerd there, as --containerd is unset),
  the API socket (-H unix://...), --pidfile, and a --config-file of its own (so
  /etc/docker/daemon.json is never read) whose only key, "deprecated-key-path", keeps 20.10's
  libtrust key there too (20.10 has no flag for it and would write /etc/docker/key.json).
- No host network changes: --bridge=none --iptables=false --ip6tables=false --ip-forward=false
  --ip-masq=false, so no docker0 and no rules; containers run with `--network none`.
- In a private mount namespace (`unshare -m`, propagation private) whose /run is a fresh tmpfs:
  every mount dockerd and containerd make (overlay rootfs, the data-root bind, netns and shm
  mounts) and the directories they hard-code in /run (/run/docker/plugins, the shim sockets in
  /run/containerd/s) live and die with that namespace. Unlike crun and podman in run.py, /sys/fs
  /cgroup is left as the host has it: dockerd 20.10's cgroupfs driver handles this host's hybrid
  layout (cgroup v1), so docker, like pycore, puts each container in cgroups
  (/sys/fs/cgroup/<controller>/docker/<id>). No --ulimit is needed: containers inherit dockerd's
  limits, which are within this host's hard limits.
- This process is a child subreaper (PR_SET_CHILD_SUBREAPER), so the containerd shims, which
  daemonize, stay its descendants and are reaped here.

Teardown, in a `finally`: SIGTERM to dockerd by its pid (the Popen pid, checked against the
pidfile), SIGKILL after 30 s; SIGKILL to any process still in dockerd's mount namespace (found
by the namespace's inode, never by name); reap every child; `umount -R` anything under the
directory still visible to the host; rmdir the cgroup directories that did not exist before
(deepest first, only when empty); remove the directory. Then what is left is checked and
reported ("leftovers"): processes in the namespace or children of this process, mounts under
the directory, new cgroup directories, /run/docker and /run/containerd, docker0, and docker
chains in nft or iptables. If docker cannot run, "error" says why (dockerd's own error line)
and "ms" is null.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # the docker.io package's client, same version as its dockerd
PR_SET_CHILD_SUBREAPER = 36
RUN = ["run", "--rm", "--network", "none", "busybox", "true"]
# Made by dockerd/containerd when they run in the host's /run; must not appear there.
HOST_RUN_DIRS = ("/run/docker", "/run/containerd")


def dockerd_argv(d: Path) -> list[str]:
    return [
        DOCKERD,
        "--data-root",
        str(d / "data"),
        "--exec-root",
        str(d / "exec"),
        "-H",
        f"unix://{d / 'docker.sock'}",
        "--pidfile",
        str(d / "dockerd.pid"),
        "--config-file",
        str(d / "daemon.json"),
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]


def docker(d: Path, *args: str) -> list[str]:
    return [DOCKER, "--config", str(d / "client"), "-H", f"unix://{d / 'docker.sock'}", *args]


def ping(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in s.recv(64).split(b"\r\n")[0]
    except OSError:
        return False


def log_error(log: Path) -> str:
    """dockerd's last error or fatal log line, else what it printed outside its log."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errs = [ln for ln in lines if "level=error" in ln or "level=fatal" in ln]
    plain = " ".join(ln.strip() for ln in lines if not ln.startswith("time="))
    return (errs[-1] if errs else plain or "(no output)").strip()


def cgroup_docker_dirs() -> set[str]:
    return set(glob.glob("/sys/fs/cgroup/*/docker"))


def mnt_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def pids_in_ns(ns: str) -> list[int]:
    me = mnt_ns(os.getpid())
    if ns == me:  # never true for unshare -m, but never sweep our own namespace
        return []
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and mnt_ns(int(p)) == ns]


def children() -> list[int]:
    out: list[int] = []
    for f in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with contextlib.suppress(OSError):
            out += [int(p) for p in Path(f).read_text().split()]
    return out


def reap_orphans(keep: int) -> None:
    """Reap the exited shims that were reparented here, never dockerd (`keep`) itself."""
    for pid in children():
        if pid != keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def mounts_under(d: Path) -> list[str]:
    r = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True)
    return [t for t in r.stdout.split() if t == str(d) or t.startswith(f"{d}/")]


def docker_net_lines() -> list[str]:
    """docker0 and any DOCKER chain or rule: with --bridge=none --iptables=false, none."""
    found = []
    for cmd in (["ip", "-o", "link"], ["nft", "list", "ruleset"], ["iptables-save"]):
        if shutil.which(cmd[0]) is None:
            continue
        r = subprocess.run(cmd, capture_output=True, text=True)
        lines = r.stdout.splitlines()
        found += [f"{cmd[0]}: {ln.strip()}" for ln in lines if "docker" in ln.lower()]
    return found


def stop(proc: subprocess.Popen[bytes], ns: str | None, d: Path, cg_before: set[str]) -> list[str]:
    """Stop dockerd and remove all it made; returns what could not be removed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    left: list[str] = []
    if ns is not None:
        for _ in range(50):
            stray = pids_in_ns(ns)
            if not stray:
                break
            for pid in stray:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            reap()
            time.sleep(0.1)
        left += [f"process {pid} in dockerd's mount namespace" for pid in pids_in_ns(ns)]
    for _ in range(50):
        reap()
        if not children():
            break
        time.sleep(0.1)
    left += [f"child process {pid}" for pid in children()]
    for target in sorted(mounts_under(d), key=len, reverse=True):
        subprocess.run(["umount", "-R", target], capture_output=True)
    left += [f"mount {t}" for t in mounts_under(d)]
    for top in sorted(cgroup_docker_dirs() - cg_before):
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                left.append(f"cgroup {dirpath}: {e.strerror}")
    return left


def measure(runs: int, image: Path) -> dict[str, object]:
    out: dict[str, object] = {"ms": None, "error": None, "dockerd": None, "leftovers": []}
    if not (os.access(DOCKERD, os.X_OK) and os.access(DOCKER, os.X_OK)):
        out["error"] = f"{DOCKERD} or {DOCKER} missing: apt-get install docker.io"
        return out
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    run_before = {p for p in HOST_RUN_DIRS if os.path.exists(p)}
    cg_before = cgroup_docker_dirs()
    net_before = set(docker_net_lines())
    d = Path(tempfile.mkdtemp(prefix="pycore-bench-docker-", dir="/dev/shm"))
    # 20.10 has no flag for its libtrust key, only this key, else it writes /etc/docker/key.json.
    (d / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(d / "key.json")}))
    log = d / "dockerd.log"
    argv = dockerd_argv(d)
    out["dockerd"] = shlex.join(argv)
    proc: subprocess.Popen[bytes] | None = None
    ns = None
    try:
        with log.open("wb") as logf:
            proc = subprocess.Popen(
                [
                    "unshare",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"',
                    "sh",
                    *argv,
                ],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not ping(d / "docker.sock"):
            if proc.poll() is not None:
                out["error"] = f"dockerd exited {proc.returncode}: {log_error(log)}"
                return out
            if time.monotonic() > deadline:
                out["error"] = f"dockerd not answering after 60 s: {log_error(log)}"
                return out
            time.sleep(0.05)
        ns = mnt_ns(proc.pid)
        pidfile = (d / "dockerd.pid").read_text().strip()
        assert pidfile == str(proc.pid), (pidfile, proc.pid)
        ver = subprocess.run(
            docker(d, "version", "--format", "{{.Server.Version}}"), capture_output=True, text=True
        )
        out["version"] = ver.stdout.strip()
        r = subprocess.run(docker(d, "load", "-i", str(image)), capture_output=True, text=True)
        if r.returncode != 0:
            out["error"] = f"docker load: {r.stderr.strip()}"
            return out
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            r = subprocess.run(docker(d, *RUN), capture_output=True, text=True)
            ts.append(time.perf_counter() - t)
            if r.returncode != 0:
                out["error"] = f"docker run exited {r.returncode}: {r.stderr.strip()}"
                return out
            reap_orphans(proc.pid)
        out["ms"] = statistics.median(ts) * 1000
        out["run"] = shlex.join(docker(d, *RUN))
        return out
    finally:
        left = stop(proc, ns, d, cg_before) if proc is not None else []
        shutil.rmtree(d, ignore_errors=True)
        if d.exists():
            left.append(f"directory {d}")
        left += [f"{p} in the host's /run" for p in HOST_RUN_DIRS if os.path.exists(p)]
        left = [x for x in left if x.split()[0] not in run_before]
        left += [ln for ln in docker_net_lines() if ln not in net_before]
        out["leftovers"] = left


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--image", type=Path, required=True, help="busybox archive (docker load)")
    args = ap.parse_args()
    print(json.dumps(measure(args.runs, args.image)))


if __name__ == "__main__":
    main()
