"""The host's OCI platform and platform matching, for picking one manifest out of an index.

Architecture names follow image-spec `config.md` (Go's GOARCH values), mapped from
`uname -m` (`os.uname()`: the `platform` module would load `re` on the way).
"""

from __future__ import annotations

import os

from pycore.oci.models import Platform

# uname -m -> (GOARCH, variant)
_MACHINE = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64le", None),
    "loongarch64": ("loong64", None),
}


def host_platform(machine: str | None = None) -> Platform:
    """The platform images for this host are built for, e.g. `linux/amd64`."""
    m = machine if machine is not None else os.uname().machine
    arch, variant = _MACHINE.get(m, (m, None))
    return Platform(os="linux", architecture=arch, variant=variant)


def matches(want: Platform, have: Platform | None) -> bool:
    """Whether an index entry's platform `have` can run on `want`.

    A missing variant on either side matches (image-spec `image-index.md` leaves it optional,
    and `arm64` images rarely say `v8`).
    """
    if have is None:
        return False
    if have.os != want.os or have.architecture != want.architecture:
        return False
    return have.variant is None or want.variant is None or have.variant == want.variant
