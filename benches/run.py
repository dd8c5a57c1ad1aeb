"""Container start speed: `pycore run --rm busybox true` against `podman run --rm` and
`docker run --rm` of the same image and crun running the same bundle.

    python3 benches/run.py [--runs 21]

Makes a busybox image in a store under /dev/shm (`pycore image bootstrap busybox`), then times,
median of the runs: the whole `pycore run --rm` CLI; the native runtime alone on a prepared
bundle (`pycore.native.start_container`, attached, in-process); `crun run` of that bundle with
its overlay mounted beforehand. crun refuses this host's hybrid cgroup layout, so it runs in a
private mount namespace where /sys/fs/cgroup is a cgroup2 mount, with its cgroup manager off.
podman (4.3, with crun) runs there too, with `--cgroups disabled` (crun's cgroup2 path wants to
raise RLIMIT_MEMLOCK for its device filter, which root here may not), a private --root and
--runroot on /dev/shm, the image loaded from `pycore save`, and ulimits within this host's hard
limits. pycore, unlike podman here, still puts every container in its cgroups.

docker (Debian's docker.io: dockerd 20.10 with its own containerd and runc, timed through the
package's /usr/bin/docker client) runs `docker run --rm --network none busybox true` against a
dockerd this bench starts and stops itself (benches/docker_ref.py, in a child process: private
/dev/shm data/exec roots and socket, --bridge=none, no iptables, in a private mount namespace;
its cgroupfs driver handles the hybrid layout, so docker keeps its per-container cgroups). The
image is the same `pycore save` archive. What each tool ran with (network, cgroups) is printed
below the table; if docker cannot run, the bench says why and goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path("/dev/shm/pycore-bench-run")
REPO = Path(__file__).resolve().parents[1]
# pycore as a user installs a command: into a fresh virtual environment (what pipx does),
# editable from this checkout. Its interpreter starts without the site-packages of the
# system Python (on this host one .pth there imports certifi: +30 ms at every start).
VENV = Path("/dev/shm/pycore-bench-venv")
PODMAN_ROOT = Path("/dev/shm/pycore-bench-podman")
PODMAN = [
    "podman",
    "--root",
    str(PODMAN_ROOT / "root"),
    "--runroot",
    str(PODMAN_ROOT / "run"),
    "--cgroup-manager",
    "cgroupfs",
]
PODMAN_RUN = [
    "run",
    "--rm",
    "--cgroups",
    "disabled",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
    "busybox",
    "true",
]
# Runs in a private mount namespace whose /sys/fs/cgroup is a cgroup2 mount.
CGROUP2_NS = "mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup && "
CRUN_LOOP = """
import subprocess, sys, time, statistics
ts = []
for i in range(int(sys.argv[1])):
    t = time.perf_counter()
    r = subprocess.run(["crun", "--cgroup-manager=disabled", "run", f"b{i}"], capture_output=True)
    ts.append(time.perf_counter() - t)
    assert r.returncode == 0, r.stderr
print(statistics.median(ts) * 1000)
"""


def pycore(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("pycore") or "pycore"
    real = subprocess.run(["pyenv", "which", "pycore"], capture_output=True, text=True)
    if real.returncode == 0:
        exe = real.stdout.strip()  # skip pyenv's bash shim
    return subprocess.run([exe, "--root", str(ROOT), *args], capture_output=True, text=True)


def venv_cli() -> str:
    """`pycore` installed into VENV (made once: `python -m venv`, then maturin, click and
    `pip install --no-build-isolation -e` of this checkout), byte-compiled like install.sh."""
    exe = VENV / "bin" / "pycore"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        pip += ["--disable-pip-version-check"]
        subprocess.run([*pip, "maturin>=1.5,<2", "click>=8"], check=True)
        subprocess.run([*pip, "--no-build-isolation", "-e", str(REPO)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "compileall", "-q", str(VENV)], check=False)
    return str(exe)


def turns(cmds: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Seconds of each run of each command, the commands taking turns (one of each per
    round), so a change in the machine's speed during the bench falls on all of them alike."""
    ts: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True)
            ts[k].append(time.perf_counter() - t)
            assert r.returncode == 0, (cmd, r.stderr)
    return ts


def interleaved_ms(cmds: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median of each command in ms, run in turns."""
    return {k: statistics.median(v) * 1000 for k, v in turns(cmds, runs).items()}


def median_ms(cmd: list[str], runs: int) -> float:
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True)
        ts.append(time.perf_counter() - t)
        assert r.returncode == 0, (cmd, r.stderr)
    return statistics.median(ts) * 1000


def docker_ref(runs: int) -> dict[str, Any]:
    """benches/docker_ref.py's result: median ms of `docker run --rm`, or why docker could not."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        archive = Path(tmp) / "busybox.tar"
        r = pycore("save", "busybox", "-o", str(archive))
        assert r.returncode == 0, r.stderr
        helper = Path(__file__).with_name("docker_ref.py")
        cmd = [sys.executable, str(helper), "--runs", str(runs), "--image", str(archive)]
        res = subprocess.run(cmd, capture_output=True, text=True)
    try:
        out: dict[str, Any] = json.loads(res.stdout)
    except json.JSONDecodeError:
        err = (res.stderr.strip().splitlines() or ["no output"])[-1]
        return {"ms": None, "error": f"docker_ref.py exited {res.returncode}: {err}"}
    return out


def _nft_tables() -> set[str]:
    """`family name` of every nftables table now."""
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {ln.split(None, 1)[1] for ln in out.splitlines() if ln.startswith("table ")}


def podman_ms(runs: int) -> float | None:
    """Median of `podman run --rm busybox true`, the same busybox image as pycore's."""
    if shutil.which("podman") is None:
        return None
    listed = subprocess.run([*PODMAN, "images", "-q", "busybox"], capture_output=True, text=True)
    if not listed.stdout.strip():
        with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
            archive = Path(tmp) / "busybox.tar"
            r = pycore("save", "busybox", "-o", str(archive))
            assert r.returncode == 0, r.stderr
            subprocess.run([*PODMAN, "load", "-i", str(archive)], capture_output=True, check=True)
    loop = CRUN_LOOP.replace('["crun", "--cgroup-manager=disabled", "run", f"b{i}"]', "CMD")
    loop = f"CMD = {json.dumps([*PODMAN, *PODMAN_RUN])}\n{loop}"
    tables = _nft_tables()
    try:
        r = subprocess.run(
            ["unshare", "-m", "sh", "-c", f"{CGROUP2_NS}{sys.executable} -c '{loop}' {runs}"],
            capture_output=True,
            text=True,
        )
    finally:
        # podman's netavark leaves iptables-nft's `ip nat` / `ip filter` tables with its
        # NETAVARK chains; the bench removes the tables it caused to be made.
        for table in sorted(_nft_tables() - tables):
            subprocess.run(["nft", "delete", "table", *table.split()], check=False)
    if r.returncode != 0:
        print(f"podman: {r.stderr.strip()}", file=sys.stderr)
        return None
    return float(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    runs = ap.parse_args().runs
    if not (ROOT / "images").exists() or "busybox" not in pycore("images").stdout:
        r = pycore("image", "bootstrap", "busybox")
        assert r.returncode == 0, r.stderr
    exe = subprocess.run(["pyenv", "which", "pycore"], capture_output=True, text=True)
    cli = exe.stdout.strip() if exe.returncode == 0 else "pycore"
    # As scripts/install.sh does: modules added since the install would be compiled every run.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            str(Path(__file__).parents[1] / "python" / "pycore"),
        ],
        check=False,
    )
    run = [cli, "--root", str(ROOT), "run", "--rm"]
    vrun = [venv_cli(), "--root", str(ROOT), "run", "--rm"]
    vpython = str(VENV / "bin" / "python")
    for cmd in (run, vrun):  # warm up: the bridge is made by the first run
        subprocess.run([*cmd, "busybox", "true"], capture_output=True, check=True)
    results = interleaved_ms(
        {
            "pycore run --rm busybox true (venv install)": [*vrun, "busybox", "true"],
            "pycore run --rm --network none busybox true (venv install)": [
                *vrun,
                "--network",
                "none",
                "busybox",
                "true",
            ],
            "pycore run --rm busybox true (install.sh, system Python)": [*run, "busybox", "true"],
            "pycore run --rm --network none busybox true (install.sh, system Python)": [
                *run,
                "--network",
                "none",
                "busybox",
                "true",
            ],
        },
        runs,
    )
    podman = podman_ms(runs)
    if podman is not None:
        results["podman run --rm busybox true"] = podman
    docker = docker_ref(runs)
    if docker["ms"] is not None:
        results["docker run --rm --network none busybox true"] = docker["ms"]
    results["python3 -c pass (venv interpreter floor)"] = median_ms([vpython, "-c", "pass"], runs)
    results["python3 -c pass (system interpreter floor)"] = median_ms(
        [sys.executable, "-c", "pass"], runs
    )
    results["python3 -S -c pass (without site)"] = median_ms(
        [sys.executable, "-S", "-c", "pass"], runs
    )

    cid = pycore("create", "busybox", "true").stdout.strip()
    cdir = ROOT / "containers" / cid
    from pycore import native

    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        native.start_container(
            cdir / "bundle", cdir / "state.json", cdir / "container.log", attach=True
        )
        ts.append(time.perf_counter() - t)
    results["pycore native start_container (bundle ready)"] = statistics.median(ts) * 1000

    spec = json.loads((cdir / "bundle" / "config.json").read_text())
    ann = spec.pop("annotations")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        bundle = Path(tmp)
        (bundle / "rootfs").mkdir()
        spec["ociVersion"] = "1.0.2"  # Debian 12's crun predates 1.2
        spec["root"]["path"] = "rootfs"
        (bundle / "config.json").write_text(json.dumps(spec))
        opts = "lowerdir={},upperdir={},workdir={}".format(
            ann["org.pycore.overlay.lowerdirs"],
            ann["org.pycore.overlay.upperdir"],
            ann["org.pycore.overlay.workdir"],
        )
        script = (
            "mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup && "
            f"mount -t overlay overlay -o {opts} rootfs && "
            f"{sys.executable} -c '{CRUN_LOOP}' {runs}"
        )
        r = subprocess.run(
            ["unshare", "-m", "sh", "-c", script], cwd=bundle, capture_output=True, text=True
        )
        if r.returncode == 0:
            results["crun run (same bundle, overlay pre-mounted)"] = float(r.stdout)
        else:
            print(f"crun: {r.stderr.strip()}", file=sys.stderr)
    pycore("rm", cid)
    # The default bridge, its table and netns directory outlive the last container (as
    # docker0 does): leave the host as the bench found it.
    pycore("network", "cleanup")
    refs = [("podman", podman), ("docker", docker["ms"])]
    load = os.getloadavg()[0]
    print(f"median of {runs} runs, load average {load:.2f}\n")
    print("| what | median |\n|---|---:|")
    for k, v in results.items():
        print(f"| {k} | {v:.1f} ms |")
    print()
    for k in list(results)[:4]:
        ratios = [f"{results[k] / ms:.2f} of {name}" for name, ms in refs if ms is not None]
        if ratios:
            print(f"{k}: {', '.join(ratios)}")
    print("\nconfigurations:")
    print(
        "- pycore: its default bridge network, or none; cgroups v1, per container; the venv "
        f"install is {VENV} (python -m venv + pip install -e), the system one scripts/install.sh"
    )
    if podman is not None:
        print(
            "- podman: its default network (netavark bridge); --cgroups disabled; cgroup2 "
            "mounted in a private mount namespace; nofile/nproc ulimits within the hard limits"
        )
    else:
        print("- podman: unavailable")
    if docker["ms"] is not None:
        print(
            f"- docker {docker.get('version', '?')}: --network none (dockerd --bridge=none, no "
            "iptables); cgroups v1 via cgroupfs, per container; dockerd in a private mount "
            f"namespace:\n  {docker['dockerd']}\n  timed: {docker['run']}"
        )
    else:
        print(f"- docker: unavailable: {docker['error']}")
    if docker.get("leftovers"):
        print(f"- docker left behind: {docker['leftovers']}")
    print("- crun: the pycore bundle, --cgroup-manager=disabled, in a private mount namespace")


if __name__ == "__main__":
    main()
