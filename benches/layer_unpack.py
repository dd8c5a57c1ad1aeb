"""Layer unpack speed: pycore against GNU tar, pigz, umoci and Python's tarfile, on /dev/shm.

    python3 benches/layer_unpack.py [--runs 5] [--write benches/RESULTS.md]

Builds its input once under /dev/shm/pycore-bench: a Debian bookworm minbase rootfs
(debootstrap from the host's apt mirror; a ~120 MB tree copied from /usr if that fails), its
tar, gzip -6 and zstd -3 blobs, and an OCI layout for umoci. Every tool extracts into a fresh
directory on tmpfs; the median of the runs is reported, with ratios to `tar -xzf`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pycore import layer
from pycore import native as pycore_native

BASE = Path("/dev/shm/pycore-bench")
ROOTFS = BASE / "rootfs"


def sh(*argv: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), check=True, capture_output=True, **kw)  # type: ignore[call-overload, no-any-return]


def mirror() -> str:
    for p in sorted(Path("/etc/apt").glob("sources.list*")) + sorted(
        Path("/etc/apt/sources.list.d").glob("*")
    ):
        if p.is_file():
            m = re.search(r"(?:URIs:|deb)\s+(http\S+/debian)\b", p.read_text())
            if m:
                return m.group(1)
    return "http://deb.debian.org/debian"


def make_rootfs() -> str:
    if ROOTFS.exists():
        return "existing"
    tmp = BASE / "rootfs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        sh("debootstrap", "--variant=minbase", "bookworm", str(tmp), mirror())
        for junk in ("var/lib/apt/lists", "var/cache/apt"):
            shutil.rmtree(tmp / junk, ignore_errors=True)
        how = "debootstrap"
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        sh("cp", "-a", "/usr/lib", "/usr/bin", "/usr/share", str(tmp))  # then trimmed
        how = "copy of /usr"
    tmp.rename(ROOTFS)
    return how


def make_blobs() -> dict[str, Path]:
    tar, gz, zst = BASE / "layer.tar", BASE / "layer.tar.gz", BASE / "layer.tar.zst"
    if not tar.exists():
        sh("tar", "--numeric-owner", "-C", str(ROOTFS), "-cf", str(tar), ".")
    if not gz.exists():
        with open(gz, "wb") as out:
            subprocess.run(["gzip", "-6", "-c", str(tar)], stdout=out, check=True)
    if not zst.exists():
        sh("zstd", "-3", "-q", "-f", str(tar), "-o", str(zst))
    return {"tar": tar, "gzip": gz, "zstd": zst}


def make_oci_layout(gz: Path, diff_id: str) -> Path:
    oci = BASE / "oci"
    if oci.exists():
        return oci
    (oci / "blobs/sha256").mkdir(parents=True)

    def blob(data: bytes, mt: str) -> dict[str, object]:
        h = hashlib.sha256(data).hexdigest()
        (oci / "blobs/sha256" / h).write_bytes(data)
        return {"mediaType": mt, "digest": f"sha256:{h}", "size": len(data)}

    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    c = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    lyr = blob(gz.read_bytes(), "application/vnd.oci.image.layer.v1.tar+gzip")
    m = blob(
        json.dumps({"schemaVersion": 2, "config": c, "layers": [lyr]}).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    m["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    (oci / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [m]}))
    (oci / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return oci


def make_five_layers() -> list[Path]:
    """Five gzip layers from the rootfs's top-level entries, dealt out by size."""
    out = [BASE / f"part{i}.tar.gz" for i in range(5)]
    if all(p.exists() for p in out):
        return out
    sizes = []
    for e in sorted(ROOTFS.iterdir()):
        r = sh("du", "-s", "--block-size=1", str(e))
        sizes.append((int(r.stdout.split()[0]), e.name))
    groups: list[list[str]] = [[] for _ in range(5)]
    loads = [0] * 5
    for size, name in sorted(sizes, reverse=True):
        i = loads.index(min(loads))
        groups[i].append(name)
        loads[i] += size
    for p, names in zip(out, groups, strict=True):
        with open(p, "wb") as fh:
            tar = subprocess.Popen(
                ["tar", "--numeric-owner", "-C", str(ROOTFS), "-cf", "-", *names],
                stdout=subprocess.PIPE,
            )
            subprocess.run(["gzip", "-6"], stdin=tar.stdout, stdout=fh, check=True)
            tar.wait()
    return out


def fresh(name: str) -> Path:
    d = BASE / "out" / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def cpu_seconds() -> float:
    """User+system CPU of this process (all its threads) and its waited-for children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_once(name: str, fn: Callable[[Path], object]) -> tuple[float, float]:
    d = fresh(name)
    c, t = cpu_seconds(), time.perf_counter()
    fn(d)
    wall, cpu = time.perf_counter() - t, cpu_seconds() - c
    shutil.rmtree(d)
    return wall, cpu


def timed(runs: int, name: str, fn: Callable[[Path], object]) -> float:
    return statistics.median(run_once(name, fn)[0] for _ in range(runs))


Spec = tuple[str, int, Callable[[Path], object]]


def timed_rounds(runs: int, specs: list[Spec]) -> list[tuple[str, float, float]]:
    """Median wall and CPU time per tool, the tools taking turns run by run, so that a burst
    of load on a shared machine hits them all alike; a spec's int caps its runs."""
    walls: list[list[float]] = [[] for _ in specs]
    cpus: list[list[float]] = [[] for _ in specs]
    for r in range(runs):
        for i, (_, cap, fn) in enumerate(specs):
            if r < cap:
                w, c = run_once(f"t{i}", fn)
                walls[i].append(w)
                cpus[i].append(c)
    return [
        (name, statistics.median(w), statistics.median(c))
        for (name, _, _), w, c in zip(specs, walls, cpus, strict=True)
    ]


def peak_rss_kib(argv: list[str]) -> int:
    r = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(m.group(1)) if m else -1


START, END = "<!-- layer_unpack: start -->", "<!-- layer_unpack: end -->"


def write_section(path: Path, runs: int, text: str) -> None:
    """Replaces this benchmark's section of RESULTS.md (other benches own the rest)."""
    cmd = f"python3 benches/layer_unpack.py --runs {runs} --write {path}"
    section = (
        f"{START}\n## Layer unpack\n\nCommand (repository root, as root, after "
        f"`pip install -e .`):\n\n    {cmd}\n\n{text}\n{END}"
    )
    old = path.read_text() if path.exists() else ""
    if START in old and END in old:
        new = old[: old.index(START)] + section + old[old.index(END) + len(END) :]
    else:
        new = (old.rstrip() + "\n\n" if old else "") + section + "\n"
    path.write_text(new)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    n = args.runs
    BASE.mkdir(parents=True, exist_ok=True)
    how = make_rootfs()
    blobs = make_blobs()
    gz, zst, tar = blobs["gzip"], blobs["zstd"], blobs["tar"]
    want = {}
    for kind in ("gzip", "zstd"):
        d = layer.unpack(blobs[kind], fresh("probe"))
        want[kind] = ["--digest", d.digest, "--diff-id", d.diff_id]
        entries, diff_id = d.entries, d.diff_id
    oci = make_oci_layout(gz, diff_id)
    cli = [sys.executable, "-m", "pycore", "layer", "unpack"]

    def native(kind: str) -> Callable[[Path], object]:
        d, i = want[kind][1], want[kind][3]
        return lambda dest: layer.unpack(blobs[kind], dest, digest=d, diff_id=i)

    def umoci(dest: Path) -> None:
        shutil.rmtree(dest)
        sh("umoci", "unpack", "--image", f"{oci}:latest", str(dest))

    def tarfile_x(dest: Path) -> None:
        with tarfile.open(gz) as t:
            t.extractall(dest, numeric_owner=True, filter="fully_trusted")

    few = max(1, n // 2)
    rows = timed_rounds(
        n,
        [
            ("`tar -xzf` (GNU tar, gzip)", n, lambda d: sh("tar", "-C", str(d), "-xzf", str(gz))),
            (
                "`tar -I pigz -xf`",
                n,
                lambda d: sh("tar", "-C", str(d), "-I", "pigz", "-xf", str(gz)),
            ),
            ("`tar --zstd -xf`", n, lambda d: sh("tar", "-C", str(d), "--zstd", "-xf", str(zst))),
            ("`tar -xf` (plain tar)", n, lambda d: sh("tar", "-C", str(d), "-xf", str(tar))),
            ("`umoci unpack` (gzip)", few, umoci),
            ("Python `tarfile.extractall` (gzip)", few, tarfile_x),
            (
                "**pycore CLI `layer unpack`, gzip, both digests**",
                n,
                lambda d: sh(*cli, str(gz), str(d), *want["gzip"]),
            ),
            (
                "**pycore CLI `layer unpack`, zstd, both digests**",
                n,
                lambda d: sh(*cli, str(zst), str(d), *want["zstd"]),
            ),
            ("**pycore in-process `layer.unpack`, gzip, both digests**", n, native("gzip")),
            ("**pycore in-process `layer.unpack`, zstd, both digests**", n, native("zstd")),
            ("pycore in-process, plain tar (digest = diff_id)", n, lambda d: layer.unpack(tar, d)),
        ],
    )
    base = rows[0][1]
    wall = {name: t for name, t, _ in rows}
    tar_z = wall["`tar --zstd -xf`"]
    ours_z = wall["**pycore in-process `layer.unpack`, zstd, both digests**"]
    ours_gz = wall["**pycore in-process `layer.unpack`, gzip, both digests**"]

    def hash_time(fn: Callable[[], object]) -> float:
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    mb = tar.stat().st_size / 1e6
    t_ours = hash_time(lambda: pycore_native.sha256_file(tar))
    t_sum = hash_time(lambda: sh("sha256sum", str(tar)))
    rss = peak_rss_kib([*cli, str(gz), str(fresh("rss")), *want["gzip"]])
    rss_tar = peak_rss_kib(["tar", "-C", str(fresh("rss-tar")), "-xzf", str(gz)])

    parts = make_five_layers()

    def seq(d: Path) -> None:
        for i, p in enumerate(parts):
            layer.unpack(p, d / str(i))

    def par(d: Path) -> None:
        with ThreadPoolExecutor(max_workers=len(parts)) as ex:
            list(ex.map(lambda ip: layer.unpack(ip[1], d / str(ip[0])), enumerate(parts)))

    t_seq, t_par = timed(n, "seq", seq), timed(n, "par", par)

    lines = [
        f"Input: Debian bookworm minbase rootfs ({how}): {entries} entries, tar {mb:.0f} MB, "
        f"gzip -6 {gz.stat().st_size / 1e6:.0f} MB, zstd -3 {zst.stat().st_size / 1e6:.0f} MB; "
        f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}; "
        f"median of {n} runs "
        "(umoci and tarfile: fewer), the tools taking turns run by run, extraction into tmpfs. "
        "CPU is user+system time of all threads and child processes.",
        "",
        "| tool | time | CPU | vs `tar -xzf` |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {t * 1000:.0f} ms | {c * 1000:.0f} ms | {t / base:.2f} |"
            for name, t, c in rows
        ],
        "",
        "In-process pycore's speed-up over the peers (their time / pycore's, same run): "
        f"zstd {tar_z / ours_z:.2f} over `tar --zstd -xf`; gzip {base / ours_gz:.2f} over "
        f"`tar -xzf` and {wall['`umoci unpack` (gzip)'] / ours_gz:.2f} over `umoci unpack`.",
        "",
        "| other | value |",
        "|---|---:|",
        f"| sha256 of the tar, pycore `sha256_file` | {t_ours * 1000:.0f} ms "
        f"({mb / t_ours:.0f} MB/s) |",
        f"| sha256 of the tar, `sha256sum` | {t_sum * 1000:.0f} ms ({mb / t_sum:.0f} MB/s) |",
        f"| peak RSS, `pycore layer unpack` (gzip, process) | {rss / 1024:.0f} MiB |",
        f"| peak RSS, `tar -xzf` | {rss_tar / 1024:.0f} MiB |",
        f"| 5 gzip layers (same rootfs split), sequential | {t_seq * 1000:.0f} ms |",
        f"| 5 gzip layers, parallel (ThreadPoolExecutor) | {t_par * 1000:.0f} ms "
        f"({t_seq / t_par:.2f}x) |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(args.write, n, text)
    shutil.rmtree(BASE / "out", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
