"""`-u user[:group]` and the image's User resolved against the image's own /etc/passwd and
/etc/group, read from its unpacked layers (top first, honouring overlay whiteouts)."""

from __future__ import annotations

import os
import stat

from pycore.errors import ContainerError
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Sequence


@struct(frozen=True, slots=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def read_image_file(layers: Sequence[str | os.PathLike[str]], rel: str) -> str | None:
    """The file `rel` as the container would see it in these layers (top first)."""
    for layer in layers:
        path = os.path.join(layer, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if _whited_out(layer, rel):
                return None
            continue
        except NotADirectoryError:
            return None
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None  # an overlay whiteout
        if not stat.S_ISREG(st.st_mode):
            return None
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    return None


def _whited_out(layer: str | os.PathLike[str], rel: str) -> bool:
    parts = rel.split("/")
    for i in range(1, len(parts)):
        try:
            st = os.lstat(os.path.join(layer, *parts[:i]))
        except OSError:
            return False
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return True
    return False


def _table(text: str | None) -> list[list[str]]:
    if not text:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve(spec: str, passwd: str | None, group: str | None) -> ResolvedUser:
    """Docker's rules: a name must exist in passwd; a numeric uid need not (its gid is then
    0 and its home /); an explicit group (name or gid) replaces the primary group, and the
    supplementary groups are those listing the user by name (or just the primary group)."""
    user_part, _, group_part = (spec or "0").partition(":")
    users = [e for e in _table(passwd) if len(e) >= 7]
    groups = [e for e in _table(group) if len(e) >= 3]
    entry = next((e for e in users if e[0] == user_part), None)
    if entry is None and user_part.isdigit():
        entry = next((e for e in users if e[2] == user_part), None)
        if entry is None:
            uid, gid, home, name = int(user_part), 0, "/", None
        else:
            uid, gid, home, name = int(entry[2]), int(entry[3]), entry[5], entry[0]
    elif entry is None:
        raise ContainerError(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        uid, gid, home, name = int(entry[2]), int(entry[3]), entry[5], entry[0]
    if group_part:
        g = next((e for e in groups if e[0] == group_part), None)
        if g is not None and g[2].isdigit():
            gid = int(g[2])
        elif group_part.isdigit():
            gid = int(group_part)
        else:
            raise ContainerError(
                f"unable to find group {group_part}: no matching entries in group file"
            )
    extra: list[int] = []
    if name is not None and not group_part:
        for g in groups:
            members = g[3].split(",") if len(g) > 3 else []
            if name in members and g[2].isdigit() and int(g[2]) != gid:
                extra.append(int(g[2]))
    # As runc's GetExecUser: with no supplementary group, the primary one is the list.
    return ResolvedUser(uid, gid, tuple(dict.fromkeys(extra)) or (gid,), home or "/")
