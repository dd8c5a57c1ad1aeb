"""Pull speed against peers: pycore pull vs `podman pull` vs `skopeo copy docker://...
containers-storage:...`, from Debian's docker-registry on 127.0.0.1, into empty stores on
/dev/shm, same images, same invocation.

    python3 benches/pull.py [--runs 3] [--results benches/RESULTS.md]

Images: "debian-like", one gzip layer of ~49 MB made from this host's /usr (real binaries,
libraries and docs compress like a distribution does), and "5-layer", five layers of the
same kind of content. Every run starts from an empty store; the median of the runs counts.
Everything the bench starts (the registry) is stopped by pid; mounts it leaves under its
/dev/shm directory are unmounted and the directory removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pycore.registry import push  # noqa: E402
from pycore.store.store import Store  # noqa: E402
from tests.helpers.images import build_image  # noqa: E402
from tests.helpers.registry import RegistryServer, api_options  # noqa: E402

SOURCES = (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/bin"), Path("/usr/share"))


def collect_files(limit: int) -> list[Path]:
    """Regular files from SOURCES, in a fixed order, until `limit` bytes."""
    out: list[Path] = []
    total = 0
    for top in SOURCES:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if p.is_symlink() or not p.is_file() or p.stat().st_size > 4 << 20:
                    continue  # no single huge file: the layer grows smoothly with `limit`
                out.append(p)
                total += p.stat().st_size
                if total >= limit:
                    return out
    return out


def make_tree(dest: Path, files: list[Path]) -> Path:
    for f in files:
        target = dest / f.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    return dest


def unmount_under(path: Path) -> None:
    """Unmount whatever the peers left mounted beneath `path` (deepest first)."""
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({res.returncode}): {res.stderr.strip()}")
    return took


def contenders(ref: str, d: Path) -> dict[str, list[str]]:
    # Short paths: podman refuses a runroot longer than 50 characters.
    return {
        "pycore": [sys.executable, "-m", "pycore", "--root", str(d / "pc"), "pull", "-q", ref],
        "podman": [
            "podman", "--root", str(d / "pr"), "--runroot", str(d / "pu"),
            "--storage-driver", "overlay", "--events-backend", "none",
            "pull", "-q", "--tls-verify=false", ref,
        ],
        "skopeo": [
            "skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
            f"docker://{ref}", f"containers-storage:[overlay@{d / 'sr'}+{d / 'su'}]{ref}",
        ],
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--results", type=Path, default=REPO / "benches" / "RESULTS.md")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pcb-", dir="/dev/shm"))
    env = dict(os.environ)
    env["PYCORE_AUTH_FILE"] = str(work / "auth.json")
    env["PYCORE_CERTS_DIR"] = str(work / "certs.d")
    rows: list[tuple[str, int, dict[str, float]]] = []
    try:
        with RegistryServer(work / "registry") as reg:
            src = Store.open(work / "src")
            files = collect_files(120 << 20)
            one = build_image(
                src, [make_tree(work / "t1", files)], names=(f"{reg.host}/b/debian:1",)
            )
            chunks = [files[i::5] for i in range(5)]
            five = build_image(
                src,
                [make_tree(work / f"t5-{i}", c) for i, c in enumerate(chunks)],
                names=(f"{reg.host}/b/five:1",),
            )
            shutil.rmtree(work / "t1")
            for i in range(5):
                shutil.rmtree(work / f"t5-{i}")
            opts = api_options(work)
            images = {"debian-like (1 layer)": one, "5-layer": five}
            for built in images.values():
                push(src, built.record.names[0], opts)
            for label, built in images.items():
                size = sum(x.size for x in built.layers)
                results: dict[str, list[float]] = {}
                for run in range(args.runs):
                    for tool, argv in contenders(built.record.names[0], work / f"r{run}").items():
                        results.setdefault(tool, []).append(timed(argv, env))
                    unmount_under(work / f"r{run}")
                    shutil.rmtree(work / f"r{run}", ignore_errors=True)
                med = {tool: statistics.median(ts) for tool, ts in results.items()}
                rows.append((label, size, med))
                print(label, size, {k: round(v, 3) for k, v in med.items()}, flush=True)
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    append_results(args.results, rows, args.runs)
    return 0


def append_results(path: Path, rows: list[tuple[str, int, dict[str, float]]], runs: int) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        "",
        f"## pull from a loopback registry ({when})",
        "",
        f"`python3 benches/pull.py --runs {runs}`: docker-registry on 127.0.0.1, empty stores "
        "on /dev/shm, median of the runs; ratio < 1 means pycore is faster. podman and "
        "skopeo use the overlay driver of containers-storage.",
        "",
        "| image | compressed | pycore | podman pull | skopeo copy | pycore/podman "
        "| pycore/skopeo |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, size, med in rows:
        pc, pm, sk = med["pycore"], med["podman"], med["skopeo"]
        lines.append(
            f"| {label} | {size / 1e6:.1f} MB | {pc:.2f} s | {pm:.2f} s | {sk:.2f} s "
            f"| {pc / pm:.2f} | {pc / sk:.2f} |"
        )
    header = "" if path.exists() else "# Benchmark results\n"
    with path.open("a") as f:
        f.write(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
