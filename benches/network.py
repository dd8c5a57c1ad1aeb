"""Networking speed: requests per second through a published port (nftables DNAT on
127.0.0.1) as a ratio to the same busybox httpd reached at its container address, with
Debian's `wrk`; and the time `pycore run -d -p` takes over `pycore run -d --network none`.

    python3 benches/network.py [--runs 11] [--seconds 5]

Uses its own store under /dev/shm (so its own bridge, subnet and nft table) and removes
everything it made at the end (`network cleanup --all`).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path("/dev/shm/pycore-bench-net")
WEB = "mkdir -p /w; head -c 512 /dev/zero > /w/index.html; exec httpd -f -p 80 -h /w"


def pycore(*args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "pycore", "--root", str(ROOT), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        raise SystemExit(f"pycore {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.strip()


def wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert m, out
    return float(m.group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed_run(runs: int, *args: str) -> float:
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        cid = pycore("run", "-d", *args, "busybox", "sleep", "60")
        ts.append(time.perf_counter() - t)
        pycore("rm", "-f", cid)
    return statistics.median(ts) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (apt-get install wrk)")
    shutil.rmtree(ROOT, ignore_errors=True)
    pycore("image", "bootstrap", "busybox")
    try:
        port = free_port()
        cid = pycore("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", WEB)
        ip = json.loads(pycore("inspect", cid))[0]["NetworkSettings"]["IPAddress"]
        time.sleep(0.3)
        direct = wrk(f"http://{ip}:80/index.html", a.seconds)
        published = wrk(f"http://127.0.0.1:{port}/index.html", a.seconds)
        pycore("rm", "-f", cid)
        # The bridge exists only while a container uses it: keep one up for both series, so
        # neither pays for making it.
        keep = pycore("run", "-d", "busybox", "sleep", "600")
        none = timed_run(a.runs, "--network", "none")
        bridged = timed_run(a.runs, "-p", f"127.0.0.1:{free_port()}:80")
        pycore("rm", "-f", keep)
    finally:
        pycore("network", "cleanup", "--all")
    print(f"wrk -t2 -c32 -d{a.seconds}s, busybox httpd, 512-byte page")
    print(f"  direct to {ip}:80          {direct:10.0f} req/s")
    print(f"  published 127.0.0.1:{port}  {published:10.0f} req/s  ratio {published / direct:.2f}")
    print(f"pycore run -d, median of {a.runs}")
    print(f"  --network none             {none:7.1f} ms")
    print(f"  -p (bridge, veth, DNAT)    {bridged:7.1f} ms  (+{bridged - none:.1f} ms)")


if __name__ == "__main__":
    main()
