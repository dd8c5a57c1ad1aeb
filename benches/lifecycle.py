"""Commands on a running container: `pycore exec CTR true`, `pycore rm -f` and `pycore stop
-t 0` of a `busybox sleep` started with `run -d`, against `podman exec`, `podman rm -f -t 0`
and `podman stop -t 0`.

    python3 benches/lifecycle.py [--runs 15]

Only the exec, stop or removal is timed (a fresh CLI process each), median of the runs. pycore runs
from the bench venv of benches/run.py (what pipx makes), with its default bridge and with
`--network none`; podman (4.3, crun, netavark bridge) as benches/run.py runs it: private
--root/--runroot on /dev/shm, cgroup2 mounted in a private mount namespace, `--cgroups
disabled`. `-t 0`: busybox's sleep is pid 1 and ignores SIGTERM, so any grace period would be
waited out in full by both. A bridged container's stop includes its network endpoint's
release (pycore: the monitor's exit command, `container cleanup`; podman: netavark).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import run as bench  # benches/run.py: the store, venv and podman set-up

PODMAN_LOOP = """
import json, subprocess, sys, time, statistics
podman, runs = json.loads(sys.argv[1]), int(sys.argv[2])
run = ["run", "-d", "--cgroups", "disabled", "--ulimit", "nofile=20000:20000",
       "--ulimit", "nproc=32768:32768", "busybox", "sleep", "60"]
out = {}
cid = subprocess.run(podman + run, capture_output=True, text=True, check=True).stdout.strip()
ts = []
for _ in range(runs):
    time.sleep(0.05)
    t = time.perf_counter()
    subprocess.run(podman + ["exec", cid, "true"], capture_output=True, check=True)
    ts.append(time.perf_counter() - t)
out["exec"] = statistics.median(ts) * 1000
subprocess.run(podman + ["rm", "-f", "-t", "0", cid], capture_output=True)
for verb in (["rm", "-f", "-t", "0"], ["stop", "-t", "0"]):
    ts = []
    for _ in range(runs):
        cid = subprocess.run(podman + run, capture_output=True, text=True, check=True).stdout
        time.sleep(0.2)
        t = time.perf_counter()
        subprocess.run(podman + verb + [cid.strip()], capture_output=True, check=True)
        ts.append(time.perf_counter() - t)
        subprocess.run(podman + ["rm", "-f", "-t", "0", cid.strip()], capture_output=True)
    out[verb[0]] = statistics.median(ts) * 1000
print(json.dumps(out))
"""


def _started(base: list[str], network: list[str]) -> str:
    """The id of a new `busybox sleep 60` run detached."""
    started = subprocess.run(
        [*base, "run", "-d", *network, "busybox", "sleep", "60"],
        capture_output=True,
        text=True,
        check=True,
    )
    return started.stdout.strip()


def pycore_ms(cli: str, verb: list[str], network: list[str], runs: int) -> float:
    ts = []
    base = [cli, "--root", str(bench.ROOT)]
    for _ in range(runs):
        cid = _started(base, network)
        time.sleep(0.2)
        t = time.perf_counter()
        subprocess.run([*base, *verb, cid], capture_output=True, check=True)
        ts.append(time.perf_counter() - t)
        subprocess.run([*base, "rm", "-f", cid], capture_output=True)  # gone after rm -f
    return statistics.median(ts) * 1000


def pycore_exec_ms(cli: str, network: list[str], runs: int) -> float:
    base = [cli, "--root", str(bench.ROOT)]
    cid = _started(base, network)
    ts = []
    for _ in range(runs):
        time.sleep(0.05)
        t = time.perf_counter()
        subprocess.run([*base, "exec", cid, "true"], capture_output=True, check=True)
        ts.append(time.perf_counter() - t)
    subprocess.run([*base, "rm", "-f", cid], capture_output=True, check=True)
    return statistics.median(ts) * 1000


def podman_ms(runs: int) -> dict[str, float] | None:
    if bench.podman_ms(1) is None:  # loads the image; None when podman cannot run here
        return None
    tables = bench._nft_tables()
    script = (
        f"{bench.CGROUP2_NS}{sys.executable} -c '{PODMAN_LOOP}' '{json.dumps(bench.PODMAN)}' {runs}"
    )
    try:
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    finally:
        for table in sorted(bench._nft_tables() - tables):
            subprocess.run(["nft", "delete", "table", *table.split()], check=False)
    if r.returncode != 0:
        print(f"podman: {r.stderr.strip()}", file=sys.stderr)
        return None
    out: dict[str, float] = json.loads(r.stdout)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    runs = ap.parse_args().runs
    if "busybox" not in bench.pycore("images").stdout:
        assert bench.pycore("image", "bootstrap", "busybox").returncode == 0
    cli = bench.venv_cli()
    rows: dict[str, float] = {"pycore exec": pycore_exec_ms(cli, [], runs)}
    for verb in (["rm", "-f"], ["stop", "-t", "0"]):
        for network in ([], ["--network", "none"]):
            what = " ".join(["pycore", *verb, *(["(--network none)"] if network else [])])
            rows[what] = pycore_ms(cli, verb, network, runs)
    podman = podman_ms(runs)
    if podman is not None:
        rows["podman exec"] = podman["exec"]
        rows["podman rm -f -t 0"] = podman["rm"]
        rows["podman stop -t 0"] = podman["stop"]
    bench.pycore("network", "cleanup")
    print(f"median of {runs} runs\n\n| what | median |\n|---|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v:.1f} ms |")
    if podman is not None:
        print(
            f"\npycore exec: {rows['pycore exec'] / podman['exec']:.2f} of podman's; "
            f"pycore rm -f: {rows['pycore rm -f'] / podman['rm']:.2f} of podman's; "
            f"pycore stop -t 0: {rows['pycore stop -t 0'] / podman['stop']:.2f} of podman's"
        )


if __name__ == "__main__":
    main()
