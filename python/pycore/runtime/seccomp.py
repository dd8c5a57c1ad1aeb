"""Docker's default seccomp profile (moby/profiles, shipped as `seccomp_default.json`,
Apache-2.0) converted to the OCI `linux.seccomp` form for one container: rules kept or
dropped by the container's capabilities, the native architecture and the kernel version,
exactly as moby's `setupSeccomp` does."""

from __future__ import annotations

import os

from pycore import jsonio

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

# Docker's names for the machine (`includes.arches`) and libseccomp's (`archMap`).
_DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "x86", "s390x": "s390x"}
_SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def default_profile() -> dict[str, Any]:
    """The profile as shipped; a fresh copy per call (a command needs it once)."""
    # Beside this module (not importlib.resources: its import costs the run path ~4 ms).
    with open(os.path.join(os.path.dirname(__file__), "seccomp_default.json"), "rb") as f:
        profile: dict[str, Any] = jsonio.loads(f.read())
    return profile


def _kernel_at_least(release: str, minimum: str) -> bool:
    def nums(v: str) -> tuple[int, ...]:
        out = []
        for part in v.split("-")[0].split(".")[:2]:
            digits = "".join(ch for ch in part if ch.isdigit())
            out.append(int(digits or 0))
        return tuple(out)

    return nums(release) >= nums(minimum)


def oci_seccomp(
    capabilities: Collection[str],
    *,
    machine: str | None = None,
    kernel: str | None = None,
    profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OCI `linux.seccomp` object for a container whose bounding set is `capabilities`."""
    prof = profile or default_profile()
    machine = machine or os.uname().machine
    kernel = kernel or os.uname().release
    arch = _DOCKER_ARCH.get(machine, machine)
    scmp = _SCMP_ARCH.get(machine)
    caps = set(capabilities)
    architectures: list[str] = []
    for entry in prof.get("archMap") or []:
        if scmp and entry.get("architecture") == scmp:
            architectures = [scmp, *entry.get("subArchitectures", [])]
    rules: list[dict[str, Any]] = []
    for call in prof.get("syscalls", []):
        inc = call.get("includes") or {}
        exc = call.get("excludes") or {}
        if any(c in caps for c in exc.get("caps", [])) or arch in exc.get("arches", []):
            continue
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("minKernel") and not _kernel_at_least(kernel, inc["minKernel"]):
            continue
        rule: dict[str, Any] = {"names": list(call["names"]), "action": call["action"]}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            rule["args"] = [
                {k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a}
                for a in call["args"]
            ]
        rules.append(rule)
    out: dict[str, Any] = {"defaultAction": prof["defaultAction"], "syscalls": rules}
    if prof.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = prof["defaultErrnoRet"]
    if architectures:
        out["architectures"] = architectures
    return out
