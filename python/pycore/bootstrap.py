"""Offline base images: `busybox` from the host's busybox-static, `debian:<suite>` from
debootstrap against the host's own apt mirror. Built in a store workdir (a `kill -9` leaves
nothing the next command's sweep does not remove), packed by the native layer packer.

The busybox image is reproducible: file times are pinned (to SOURCE_DATE_EPOCH, else the
busybox binary's mtime) and the packer is deterministic, so the same busybox gives the same
layer; with SOURCE_DATE_EPOCH the `created` time, and so the image id, are pinned too.
"""

from __future__ import annotations

import collections
import ctypes
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pycore import native
from pycore.digest import Digest
from pycore.errors import BootstrapError, UsageError
from pycore.importer import LayerFile, commit_rootfs_image
from pycore.oci import mediatypes as mt
from pycore.reference import Reference
from pycore.store.commit import now_rfc3339
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from pycore.structs import struct

Status = Callable[[str], None]

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
DEFAULT_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_SCRIPTS = Path("/usr/share/debootstrap/scripts")
KINDS = ("busybox", "debian")

_APPLET = re.compile(r"[A-Za-z0-9_.+\[\]-]+(?:/[A-Za-z0-9_.+\[\]-]+)*")
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnobody:x:65534:\n"
# (path, mode): the skeleton every base image has; /tmp is world-writable and sticky.
_BUSYBOX_DIRS = (
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("etc", 0o755),
    ("root", 0o700),
    ("home", 0o755),
    ("tmp", 0o1777),
    ("var", 0o755),
    ("var/tmp", 0o1777),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
)
PR_SET_PDEATHSIG = 1


@struct(frozen=True, slots=True)
class Target:
    """What to bootstrap: `busybox` or `debian:<suite>`, and the name to give it."""

    kind: str
    suite: str | None
    name: str  # fully qualified reference

    @classmethod
    def parse(cls, text: str, tag: str | None = None) -> Target:
        kind, _, version = text.partition(":")
        if kind not in KINDS:
            raise UsageError(f"cannot bootstrap {text!r}: choose busybox or debian[:SUITE]")
        suite = (version or DEFAULT_SUITE) if kind == "debian" else None
        default = f"{kind}:{suite}" if suite else f"{kind}:{version or 'latest'}"
        ref = Reference.parse(tag or default)
        if ref.digest is not None:
            raise UsageError(f"cannot tag an image with a digest reference: {tag}")
        return cls(kind, suite, str(ref))


def bootstrap(
    store: Store,
    what: str,
    *,
    tag: str | None = None,
    progress: Status | None = None,
    source_date_epoch: int | None = None,
    mirror: str | None = None,
) -> ImageRecord:
    """Make the base image `what` (`busybox`, `debian`, `debian:bookworm`) without a registry
    and tag it (`docker.io/library/busybox:latest` unless `tag` says otherwise).

    Raises UsageError for an unknown target, BootstrapError when a host tool is missing or
    fails (the message says what to install)."""
    target = Target.parse(what, tag)
    say = progress or (lambda _line: None)
    created = rfc3339(source_date_epoch) if source_date_epoch is not None else now_rfc3339()
    if target.kind == "busybox":
        return _busybox(store, target, say, created, source_date_epoch)
    assert target.suite is not None
    return _debian(store, target, target.suite, say, created, mirror)


def rfc3339(epoch: int) -> str:
    """A SOURCE_DATE_EPOCH as the RFC 3339 `created` time of an image config."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- busybox -------------------------------------------------------------------------------


def find_busybox() -> Path:
    """The host's static busybox; a dynamic one would not run inside an empty rootfs."""
    for path in BUSYBOX_CANDIDATES:
        if path.is_file() and os.access(path, os.X_OK):
            if not is_static_elf(path):
                continue
            return path
    raise BootstrapError(
        "no static busybox on this host (looked for /bin/busybox); "
        "install it with: apt-get install busybox-static"
    )


def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (PT_INTERP)."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] not in (1, 2):
            return False
        is64 = head[4] == 2
        order: Literal["little", "big"] = "little" if head[5] == 1 else "big"

        def num(off: int, size: int) -> int:
            return int.from_bytes(head[off : off + size], order)

        phoff = num(32, 8) if is64 else num(28, 4)
        phentsize = num(54, 2) if is64 else num(42, 2)
        phnum = num(56, 2) if is64 else num(44, 2)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    for i in range(phnum):
        kind = int.from_bytes(table[i * phentsize : i * phentsize + 4], order)
        if kind == pt_interp:
            return False
    return True


def busybox_applets(busybox: Path) -> list[str]:
    """`busybox --list-full`: the install path of every applet (`bin/sh`, `usr/bin/env`)."""
    try:
        out = subprocess.run(
            [str(busybox), "--list-full"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise BootstrapError(f"{busybox} --list-full failed: {e}") from e
    applets = []
    for line in out.splitlines():
        path = line.strip().lstrip("/")
        if not path:
            continue
        if not _APPLET.fullmatch(path) or ".." in path.split("/"):
            raise BootstrapError(f"{busybox} --list-full printed an odd path {line!r}")
        applets.append(path)
    return applets


def _busybox_banner(busybox: Path) -> str:
    try:
        out = subprocess.run(
            [str(busybox)], capture_output=True, text=True, check=False, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "busybox"
    first = out.splitlines()[0] if out else "busybox"
    return first.split(" multi-call")[0].strip()


def build_busybox_rootfs(rootfs: Path, busybox: Path, mtime: int) -> None:
    """Lay out a busybox root filesystem at `rootfs` (which must not exist)."""
    rootfs.mkdir(mode=0o755)
    for rel, mode in _BUSYBOX_DIRS:
        d = rootfs / rel
        d.mkdir(exist_ok=True)
        os.chmod(d, mode)
    shutil.copyfile(busybox, rootfs / "bin" / "busybox")
    os.chmod(rootfs / "bin" / "busybox", 0o755)
    for applet in busybox_applets(busybox):
        if applet == "bin/busybox" or "/" not in applet:  # `linuxrc` is for initramfs
            continue
        link = rootfs / applet
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath("bin/busybox", os.path.dirname(applet) or ".")
        if not link.is_symlink():
            os.symlink(target, link)
    (rootfs / "etc" / "passwd").write_text(_PASSWD)
    (rootfs / "etc" / "group").write_text(_GROUP)
    for f in ("passwd", "group"):
        os.chmod(rootfs / "etc" / f, 0o644)
    _pin_times(rootfs, mtime)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*filenames, *dirnames):
            yield Path(dirpath) / name
    yield root


def _pin_times(rootfs: Path, mtime: int) -> None:
    owner = os.geteuid() == 0
    for path in _walk(rootfs):
        if owner:
            os.lchown(path, 0, 0)
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def _busybox(
    store: Store, target: Target, say: Status, created: str, epoch: int | None
) -> ImageRecord:
    busybox = find_busybox()
    mtime = epoch if epoch is not None else int(busybox.stat().st_mtime)
    with store.workdir("bootstrap") as work:
        say(f"Building a busybox rootfs from {busybox}")
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs, busybox, mtime)
        layer = _pack(rootfs, work, say)
        history = {
            "created": created,
            "created_by": f"pycore image bootstrap busybox ({_busybox_banner(busybox)})",
        }
        config = {"Env": [PATH_ENV], "Cmd": ["sh"]}
        return commit_rootfs_image(
            store, layer, config, (target.name,), created=created, history=[history]
        )


def _pack(rootfs: Path, work: Path, say: Status) -> LayerFile:
    say("Packing the layer")
    out = work / "layer.tar.gz"
    found = native.pack_layer(rootfs, out, compression="gzip")
    return LayerFile(
        out, Digest.parse(found.digest), Digest.parse(found.diff_id), found.size, mt.OCI_LAYER_GZIP
    )


# -- debian --------------------------------------------------------------------------------


@struct(frozen=True, slots=True)
class Mirror:
    uri: str
    keyring: Path | None = None


def host_mirror(apt_dir: Path = Path("/etc/apt")) -> Mirror:
    """The Debian archive the host's apt uses (not its -security or -updates suites), from
    `sources.list`, `sources.list.d/*.list` and deb822 `sources.list.d/*.sources`."""
    entries: list[tuple[str, list[str], Path | None]] = []
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        entries += _deb822(text) if path.suffix == ".sources" else _one_line(text)
    for uri, suites, keyring in entries:
        if "security" in uri or not uri.startswith(("http://", "https://", "file:/")):
            continue
        if any("-" not in s for s in suites):
            return Mirror(uri.rstrip("/"), keyring if keyring and keyring.is_file() else None)
    return Mirror(DEFAULT_MIRROR)


def _one_line(text: str) -> list[tuple[str, list[str], Path | None]]:
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        words = line.split()[1:]
        keyring = None
        if words and words[0].startswith("["):
            opts = []
            while words:
                word = words.pop(0)
                opts.append(word)
                if word.endswith("]"):
                    break
            for opt in " ".join(opts).strip("[]").split():
                key, _, value = opt.partition("=")
                if key == "signed-by" and value.startswith("/"):
                    keyring = Path(value)
        if len(words) >= 2:
            out.append((words[0], [words[1]], keyring))
    return out


def _deb822(text: str) -> list[tuple[str, list[str], Path | None]]:
    out = []
    for para in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for raw in para.splitlines():
            if raw.startswith("#"):
                continue
            if raw[:1] in (" ", "\t") and key:
                fields[key] += "\n" + raw.strip()
                continue
            key, sep, value = raw.partition(":")
            if not sep:
                key = ""
                continue
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        signed = fields.get("signed-by", "")
        keyring = Path(signed) if signed.startswith("/") and "\n" not in signed else None
        for uri in fields.get("uris", "").split():
            out.append((uri, fields.get("suites", "").split(), keyring))
    return out


def _debian(
    store: Store, target: Target, suite: str, say: Status, created: str, mirror: str | None
) -> ImageRecord:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise BootstrapError("debootstrap is not installed; run: apt-get install debootstrap")
    if not (DEBOOTSTRAP_SCRIPTS / suite).exists():
        raise UsageError(f"debootstrap does not know the suite {suite!r}")
    if os.geteuid() != 0:
        raise BootstrapError("bootstrapping debian needs root (debootstrap runs chroot)")
    chosen = Mirror(mirror) if mirror else host_mirror()
    with store.workdir("bootstrap") as work:
        rootfs = work / "rootfs"
        say(f"debootstrap {suite} from {chosen.uri}")
        run_debootstrap(debootstrap, suite, rootfs, chosen, say)
        strip_debian_rootfs(rootfs)
        layer = _pack(rootfs, work, say)
        history = {
            "created": created,
            "created_by": f"pycore image bootstrap debian:{suite} (debootstrap --variant=minbase)",
        }
        config = {"Env": [PATH_ENV], "Cmd": ["bash"]}
        return commit_rootfs_image(
            store, layer, config, (target.name,), created=created, history=[history]
        )


def _die_with_parent() -> None:
    # prctl(2) PR_SET_PDEATHSIG: if pycore is killed, debootstrap does not keep writing
    # into a workdir the next command's sweep is removing.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_debootstrap(
    debootstrap: str, suite: str, rootfs: Path, mirror: Mirror, say: Status
) -> None:
    """Run debootstrap in a private mount namespace (unshare(1)): the /proc and /sys it mounts
    in the target vanish with it even when it fails half-way, never leaking to the host."""
    argv = ["unshare", "--mount", "--propagation", "private", debootstrap, "--variant=minbase"]
    if mirror.keyring is not None:
        argv.append(f"--keyring={mirror.keyring}")
    argv += [suite, str(rootfs), mirror.uri]
    tail: collections.deque[str] = collections.deque(maxlen=20)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            preexec_fn=_die_with_parent,  # the CLI runs no threads yet; see subprocess docs
        )
    except OSError as e:
        raise BootstrapError(f"cannot run debootstrap: {e.strerror}") from e
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if line.startswith("I: "):
                say(line[3:])
    if proc.returncode != 0:
        errors = [x for x in tail if x.startswith("E: ")]
        last = errors[-1] if errors else (tail[-1] if tail else "no output")
        raise BootstrapError(f"debootstrap {suite} failed (exit {proc.returncode}): {last}")


# Host-specific or cached files a base image should not carry.
_STRIP_GLOBS = (
    "var/cache/apt/*.bin",
    "var/lib/apt/lists/*",
    "var/cache/apt/archives/*.deb",
    "var/log/*.log",
    "var/log/apt/*",
    "dev/*",
    "etc/hostname",
    "etc/resolv.conf",
)


def strip_debian_rootfs(rootfs: Path) -> None:
    """Remove apt caches, logs, device nodes and the host's hostname and resolv.conf."""
    for pattern in _STRIP_GLOBS:
        for path in rootfs.glob(pattern):
            if path.name == "partial" and path.is_dir() and not path.is_symlink():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
