"""`pycore ps -a` with many containers: a cold CLI listing 1,000 created-but-not-started
containers (the issue's target: under 200 ms).

    python3 benches/ps.py [--containers 1000] [--runs 15] [--write benches/RESULTS.md]

Makes a busybox store under /dev/shm, creates the containers through the container service
in-process (the same code as `pycore create --network none busybox true`, without paying the
CLI start 1,000 times), then times, median and fastest of the runs (taken in turns),
`pycore ps -a`, `pycore ps -a --format json` and `pycore ps -aq` as fresh processes, next to
the interpreter's own start (`python3 -c pass`, and `python3 -S -c pass` without
site-packages' `.pth` files).
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
stale after a `kill -9`. In-process, listing the 1,000 records takes about 25 ms and the
table about 15 ms. Load from other work on the 2 CPUs moves every line above by tens of ms
between runs."""


def cli() -> str:
    real = subprocess.run(["pyenv", "which", "pycore"], capture_output=True, text=True)
    if real.returncode == 0:
        return real.stdout.strip()  # skip pyenv's bash shim
    return shutil.which("pycore") or "pycore"


def timings(cmds: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """(median, min) in ms of each command; the commands take turns run by run, so a burst
    of load from elsewhere on the machine falls on all of them alike."""
    from run import turns  # benches/run.py

    for cmd in cmds.values():
        subprocess.run(cmd, capture_output=True, check=True)  # warm the page cache
    ts = turns(cmds, runs)
    return {k: (statistics.median(v) * 1000, min(v) * 1000) for k, v in ts.items()}


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
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--write", type=Path, help="replace the ps section of this RESULTS.md")
    args = ap.parse_args()
    populate(args.containers)
    # As scripts/install.sh does: modules added since the install would be compiled every run.
    package = Path(__file__).parents[1] / "python" / "pycore"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=False)
    exe, runs = cli(), args.runs
    from run import VENV, venv_cli  # benches/run.py: pycore installed in a fresh venv

    vbase = [venv_cli(), "--root", str(ROOT), "ps"]
    base = [exe, "--root", str(ROOT), "ps"]
    listed = subprocess.run([*base, "-aq"], capture_output=True, text=True).stdout.split()
    assert len(listed) == args.containers, len(listed)
    results = timings(
        {
            "pycore ps -a (venv install)": [*vbase, "-a"],
            "pycore ps -a --format json (venv install)": [*vbase, "-a", "--format", "json"],
            "pycore ps -a": [*base, "-a"],
            "pycore ps -a --format json": [*base, "-a", "--format", "json"],
            "pycore ps -aq": [*base, "-aq"],
            "pycore ps (none running)": base,
            "python3 -c pass (venv interpreter floor)": [f"{VENV}/bin/python", "-c", "pass"],
            "python3 -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
            "python3 -S -c pass (without site)": [sys.executable, "-S", "-c", "pass"],
        },
        runs,
    )
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
        f"/dev/shm; each line a fresh process, median and fastest of {runs} runs taken in "
        "turns; load average "
        f"{load:.2f} at the end.",
        "",
        "| what | median | fastest |",
        "|---|---:|---:|",
        *(f"| {k} | {med:.1f} ms | {low:.1f} ms |" for k, (med, low) in results.items()),
        "",
        NOTES,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
