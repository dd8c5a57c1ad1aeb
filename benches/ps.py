"""`pycore ps -a` with many containers: a cold CLI listing 1,000 created-but-not-started
containers (the issue's target: under 200 ms).

    python3 benches/ps.py [--containers 1000] [--runs 9] [--write benches/RESULTS.md]

Makes a busybox store under /dev/shm, creates the containers through the container service
in-process (the same code as `pycore create --network none busybox true`, without paying the
CLI start 1,000 times), then times, median of the runs, `pycore ps -a`, `pycore ps -a --format
json` and `pycore ps -aq` as fresh processes, next to the interpreter's own start
(`python3 -c pass`, and `python3 -S -c pass` without site-packages' `.pth` files).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path("/dev/shm/pycore-bench-ps")
MARK = ("<!-- ps: start -->", "<!-- ps: end -->")
NOTES = """\
The interpreter floor is this host's: a `.pth` file of the sandbox's site-packages imports
certifi at every start (`python3 -S` shows the interpreter without it). What `ps` adds to it:
click and pycore's CLI modules (`python3 -X importtime -m pycore ps`: no engine, native or
network module on this path), then per container one read of `container.json` (about 1 KB),
one open of `state.json` (absent for a created container) and, only for a container recorded
as running, /proc/<pid>/stat of its monitor and init. Nothing is cached, so nothing can be
stale after a `kill -9`. In-process, listing the 1,000 records takes about 35 ms and the
table about 20 ms. Load from other work on the 2 CPUs moves every line above by tens of ms
between runs."""


def cli() -> str:
    real = subprocess.run(["pyenv", "which", "pycore"], capture_output=True, text=True)
    if real.returncode == 0:
        return real.stdout.strip()  # skip pyenv's bash shim
    return shutil.which("pycore") or "pycore"


def median_ms(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the page cache
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True)
        ts.append(time.perf_counter() - t)
        assert r.returncode == 0, (cmd, r.stderr)
    return statistics.median(ts) * 1000


def populate(n: int) -> None:
    """`n` created containers in the bench store (kept between runs when the count fits)."""
    from pycore.runtime.containers import ContainerService
    from pycore.runtime.options import RunOptions
    from pycore.store.store import Store

    svc = ContainerService(Store.open(ROOT))
    have = len(svc.list(all=True))
    if have > n:
        shutil.rmtree(ROOT)
        svc = ContainerService(Store.open(ROOT))
        have = 0
    if not (ROOT / "images" / "index.json").exists():
        r = subprocess.run([cli(), "--root", str(ROOT), "image", "bootstrap", "busybox"])
        assert r.returncode == 0
    opts = RunOptions(command=("true",), network="none")
    t = time.perf_counter()
    for _ in range(n - have):
        svc.create("busybox", opts)
    if n > have:
        print(f"created {n - have} containers in {time.perf_counter() - t:.1f} s", file=sys.stderr)


def write_section(path: Path, text: str) -> None:
    body = path.read_text()
    section = f"{MARK[0]}\n{text.rstrip()}\n{MARK[1]}"
    pattern = re.compile(re.escape(MARK[0]) + ".*?" + re.escape(MARK[1]), re.S)
    body = pattern.sub(lambda _: section, body) if pattern.search(body) else f"{body}\n{section}\n"
    path.write_text(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--write", type=Path, help="replace the ps section of this RESULTS.md")
    args = ap.parse_args()
    populate(args.containers)
    # As scripts/install.sh does: modules added since the install would be compiled every run.
    package = Path(__file__).parents[1] / "python" / "pycore"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=False)
    exe, runs = cli(), args.runs
    base = [exe, "--root", str(ROOT), "ps"]
    listed = subprocess.run([*base, "-aq"], capture_output=True, text=True).stdout.split()
    assert len(listed) == args.containers, len(listed)
    results = {
        "pycore ps -a": median_ms([*base, "-a"], runs),
        "pycore ps -a --format json": median_ms([*base, "-a", "--format", "json"], runs),
        "pycore ps -aq": median_ms([*base, "-aq"], runs),
        "pycore ps (none running)": median_ms(base, runs),
        "python3 -c pass (interpreter floor)": median_ms([sys.executable, "-c", "pass"], runs),
        "python3 -S -c pass (without site)": median_ms([sys.executable, "-S", "-c", "pass"], runs),
    }
    load = os.getloadavg()[0]
    lines = [
        f"## ps with {args.containers} containers ({time.strftime('%Y-%m-%d')})",
        "",
        "Command (repository root, as root, after `pip install -e .`):",
        "",
        f"    python3 benches/ps.py --containers {args.containers} --runs {runs} "
        "--write benches/RESULTS.md",
        "",
        f"{args.containers} created-but-not-started busybox containers in a store on "
        f"/dev/shm; each line a fresh process, median of {runs} runs; load average "
        f"{load:.2f} at the end.",
        "",
        "| what | median |",
        "|---|---:|",
        *(f"| {k} | {v:.1f} ms |" for k, v in results.items()),
        "",
        NOTES,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
