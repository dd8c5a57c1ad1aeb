"""Pull speed against peers: pycore pull vs `podman pull` vs `skopeo copy docker://...
containers-storage:...`, from Debian's docker-registry on 127.0.0.1, into empty stores on
/dev/shm, same images, same invocation; and against pycore's own unpack of the same blobs
(the floor a pull that overlaps download and unpack can approach).

    python3 benches/pull.py [--runs 5] [--results benches/RESULTS.md]

Images: "debian-like", one gzip layer of ~49 MB made from this host's /usr (real binaries,
libraries and docs compress like a distribution does), and "5-layer", five layers of the
same kind of content. Every run starts from an empty store; the median of the runs counts.
Per run and image, the processes take turns: `pycore pull`, `podman pull`, `skopeo copy`,
then (one layer only) `pycore layer unpack` of the same blob with the same checks; then in
this process, `pycore.registry.pull` and `pycore.layer.unpack` of the image's blobs one after
another (no interpreter start in either). Everything the bench starts (the registry) is
stopped by pid; mounts it leaves under its /dev/shm directory are unmounted and the directory
removed. The section of RESULTS.md between the `pull` markers is replaced.
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

from pycore import layer  # noqa: E402
from pycore.registry import RegistryOptions, pull, push  # noqa: E402
from pycore.store.store import Store  # noqa: E402
from tests.helpers.images import BuiltImage, build_image  # noqa: E402
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


def unpack_cli(src: Store, built: BuiltImage, dest: Path) -> list[str]:
    """`pycore layer unpack` of a one-layer image's blob, checked as a pull checks it."""
    (desc,), (diff_id,) = built.layers, built.diff_ids
    return [
        sys.executable, "-m", "pycore", "layer", "unpack", str(src.blob_path(desc.digest)),
        str(dest), "--digest", str(desc.digest), "--size", str(desc.size),
        "--diff-id", str(diff_id),
    ]  # fmt: skip


def in_process(src: Store, built: BuiltImage, d: Path, opts: RegistryOptions) -> dict[str, float]:
    """`pycore.registry.pull` of the image, then `pycore.layer.unpack` of its blobs one after
    another, into empty directories under `d`."""
    start = time.perf_counter()
    pull(Store.open(d / "api"), built.record.names[0], opts)
    pulled = time.perf_counter() - start
    start = time.perf_counter()
    for i, (desc, diff_id) in enumerate(zip(built.layers, built.diff_ids, strict=True)):
        layer.unpack(
            src.blob_path(desc.digest), d / f"unpack{i}", digest=desc.digest, size=desc.size,
            diff_id=diff_id,
        )  # fmt: skip
    return {"pull-api": pulled, "unpack-api": time.perf_counter() - start}


def python_start() -> float:
    """Median wall time of `python3 -c pass` (this host's interpreter start-up)."""
    return statistics.median(
        timed([sys.executable, "-c", "pass"], dict(os.environ)) for _ in range(7)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
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
                    d = work / f"r{run}"
                    argvs = contenders(built.record.names[0], d)
                    if len(built.layers) == 1:
                        argvs["unpack-cli"] = unpack_cli(src, built, d / "lu")
                    for tool, argv in argvs.items():
                        results.setdefault(tool, []).append(timed(argv, env))
                    for key, took in in_process(src, built, d, opts).items():
                        results.setdefault(key, []).append(took)
                    unmount_under(d)
                    shutil.rmtree(d, ignore_errors=True)
                med = {tool: statistics.median(ts) for tool, ts in results.items()}
                rows.append((label, size, med))
                print(label, size, {k: round(v, 3) for k, v in med.items()}, flush=True)
        start = python_start()
        print("python3 -c pass", round(start, 3), flush=True)
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    write_results(args.results, rows, args.runs, start)
    return 0


START, END = "<!-- pull: start -->", "<!-- pull: end -->"


def write_results(
    path: Path, rows: list[tuple[str, int, dict[str, float]]], runs: int, start: float
) -> None:
    """Replaces this benchmark's section of RESULTS.md (other benches own the rest)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    load = os.getloadavg()[0]
    lines = [
        START,
        f"## pull from a loopback registry ({when})",
        "",
        f"`python3 benches/pull.py --runs {runs}`: docker-registry on 127.0.0.1, empty stores "
        "on /dev/shm, median of the runs; podman and skopeo use the overlay driver of "
        f"containers-storage. 2 CPUs, load average {load:.1f} at the end of the run. "
        f"`python3 -c pass` takes {start * 1000:.0f} ms on this host (part of every pycore CLI "
        "figure).",
        "",
        "| image | compressed | pycore pull | podman pull | skopeo copy | podman/pycore "
        "| skopeo/pycore | `pycore layer unpack` (CLI) | pull/unpack (CLI) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, size, med in rows:
        pc, pm, sk = med["pycore"], med["podman"], med["skopeo"]
        lu = med.get("unpack-cli")
        cli = f"{lu:.2f} s | {pc / lu:.2f}" if lu else "- | -"
        lines.append(
            f"| {label} | {size / 1e6:.1f} MB | {pc:.2f} s | {pm:.2f} s | {sk:.2f} s "
            f"| {pm / pc:.1f}x | {sk / pc:.1f}x | {cli} |"
        )
    lines += [
        "",
        "In process (no interpreter start): `pycore.registry.pull` against `pycore.layer.unpack` "
        "of the same blobs one after another, with the same checks (size, digest, diff_id).",
        "",
        "| image | pull | layer.unpack | pull/unpack |",
        "|---|---|---|---|",
    ]
    for label, _, med in rows:
        pa, ua = med["pull-api"], med["unpack-api"]
        lines.append(f"| {label} | {pa:.2f} s | {ua:.2f} s | {pa / ua:.2f} |")
    lines.append(END)
    section = "\n".join(lines)
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = old[: old.index(START)] + section + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip() + "\n\n" + section + "\n"
    path.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
