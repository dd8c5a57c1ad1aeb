"""The OCI runtime spec builder: Docker's run semantics, and schema-valid output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pycore.errors import ContainerError, UsageError
from pycore.runtime import seccomp
from pycore.runtime.options import RunOptions, check_name, env_entries, parse_network
from pycore.runtime.spec import (
    DEFAULT_CAPS,
    Rootfs,
    build_spec,
    capabilities,
    merge_env,
    resolve_process,
)
from pycore.runtime.users import ResolvedUser, read_image_file, resolve
from tests.helpers.schemas import validate

ROOTFS = Rootfs("/c/rootfs", ("/l/top", "/l/base"), "/c/upper", "/c/work")
ROOT = ResolvedUser(0, 0, (), "/root")
IMAGE = {"Env": ["PATH=/usr/bin:/bin", "A=image"], "Cmd": ["sh"], "WorkingDir": "/srv"}


def spec_for(
    image: dict[str, Any] | None = None, opts: RunOptions | None = None, **kw: Any
) -> dict[str, Any]:
    return build_spec(
        IMAGE if image is None else image,
        opts or RunOptions(),
        hostname=kw.pop("hostname", "abc"),
        rootfs=ROOTFS,
        user=kw.pop("user", ROOT),
        seccomp=kw.pop("seccomp", seccomp.oci_seccomp(DEFAULT_CAPS, machine="x86_64")),
        etc_files={"/etc/hosts": "/c/hosts"},
    )


@pytest.mark.parametrize(
    ("image", "opts", "args"),
    [
        ({"Cmd": ["sh"]}, RunOptions(), ("sh",)),
        ({"Cmd": ["sh"]}, RunOptions(command=("ls", "-l")), ("ls", "-l")),
        ({"Entrypoint": ["/init"], "Cmd": ["a"]}, RunOptions(), ("/init", "a")),
        ({"Entrypoint": ["/init"], "Cmd": ["a"]}, RunOptions(command=("b",)), ("/init", "b")),
        # --entrypoint drops the image's Cmd; a command given still follows it.
        ({"Entrypoint": ["/init"], "Cmd": ["a"]}, RunOptions(entrypoint="env"), ("env",)),
        ({"Cmd": ["a"]}, RunOptions(entrypoint="env", command=("x",)), ("env", "x")),
        (
            {"Entrypoint": ["/init"], "Cmd": ["a"]},
            RunOptions(entrypoint="", command=("b",)),
            ("b",),
        ),
        # A string Cmd is shell form.
        ({"Cmd": "echo hi"}, RunOptions(), ("/bin/sh", "-c", "echo hi")),
    ],
)
def test_entrypoint_and_cmd(image: dict[str, Any], opts: RunOptions, args: tuple[str, ...]) -> None:
    assert resolve_process(image, opts).args == args


def test_no_command_is_an_error() -> None:
    with pytest.raises(ContainerError, match="no command specified"):
        resolve_process({}, RunOptions())
    with pytest.raises(ContainerError):
        resolve_process({"Cmd": ["a"]}, RunOptions(entrypoint=""))


def test_workdir_user_env() -> None:
    p = resolve_process(IMAGE, RunOptions(env=("A=cli", "B=2")))
    assert p.cwd == "/srv"
    assert p.env == ("PATH=/usr/bin:/bin", "A=cli", "B=2")
    assert resolve_process(IMAGE, RunOptions(workdir="/tmp")).cwd == "/tmp"
    assert resolve_process({"Cmd": ["x"]}, RunOptions()).cwd == "/"
    assert resolve_process({"Cmd": ["x"], "User": "nobody"}, RunOptions()).user == "nobody"
    assert resolve_process({"Cmd": ["x"], "User": "nobody"}, RunOptions(user="1:2")).user == "1:2"
    with pytest.raises(UsageError, match="absolute path"):
        resolve_process(IMAGE, RunOptions(workdir="rel"))


def test_merge_env_keeps_first_position() -> None:
    assert merge_env(["A=1", "B=2"], ["A=3", "C=4"]) == ["A=3", "B=2", "C=4"]


def test_env_entries(tmp_path: Path) -> None:
    f = tmp_path / "env"
    f.write_text("# comment\n\nFROM_FILE=1\nHOSTVAR\nMISSING\n")
    got = env_entries(["X=1", "HOSTVAR", "GONE"], [f], {"HOSTVAR": "h"})
    assert got == ("FROM_FILE=1", "HOSTVAR=h", "X=1", "HOSTVAR=h")
    with pytest.raises(UsageError):
        env_entries(["=x"], [], {})


def test_names_and_networks() -> None:
    assert check_name("/web_1") == "web_1"
    for bad in ("a", "-x", "has space", "ünï"):
        with pytest.raises(UsageError):
            check_name(bad)
    assert parse_network(None) == "default"
    assert parse_network("host") == "host"
    assert parse_network("bridge") == "default"
    assert parse_network("container:web") == "container:web"
    assert parse_network("appnet") == "appnet"
    for bad in ("container:", "-x", "a b"):
        with pytest.raises(UsageError, match="invalid network"):
            parse_network(bad)


def test_spec_is_valid_and_docker_like() -> None:
    spec = spec_for(opts=RunOptions(env=("A=cli",)))
    validate("config-schema.json", spec, spec="runtime-spec")
    proc = spec["process"]
    assert proc["args"] == ["sh"]
    assert proc["env"] == ["HOSTNAME=abc", "PATH=/usr/bin:/bin", "A=cli", "HOME=/root"]
    assert proc["cwd"] == "/srv"
    assert proc["capabilities"]["bounding"] == list(DEFAULT_CAPS)
    assert "inheritable" not in proc["capabilities"]
    assert proc["noNewPrivileges"] is False
    assert spec["hostname"] == "abc"
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/dev/mqueue", "/dev/shm", "/etc/hosts",
    ]  # fmt: skip
    assert "ro" in spec["mounts"][3]["options"]
    ns = {n["type"] for n in spec["linux"]["namespaces"]}
    assert ns == {"pid", "ipc", "uts", "mount", "cgroup", "network"}
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert spec["annotations"]["org.pycore.overlay.lowerdirs"] == "/l/top:/l/base"


def test_default_path_and_home_are_added() -> None:
    spec = spec_for({"Cmd": ["x"]}, user=ResolvedUser(1000, 1000, (27,), "/home/u"))
    env = spec["process"]["env"]
    assert env[0].startswith("PATH=/usr/local/sbin:")
    assert env[-1] == "HOME=/home/u"
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [27]}


def test_host_network_privileged_read_only() -> None:
    spec = spec_for(opts=RunOptions(network="host", privileged=True, read_only=True))
    validate("config-schema.json", spec, spec="runtime-spec")
    assert "network" not in {n["type"] for n in spec["linux"]["namespaces"]}
    assert "seccomp" not in spec["linux"] and "maskedPaths" not in spec["linux"]
    assert spec["root"]["readonly"] is True
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]


def test_capabilities_add_drop() -> None:
    caps = capabilities(RunOptions(cap_add=("NET_ADMIN",), cap_drop=("chown", "CAP_KILL")))
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_KILL" not in caps
    assert capabilities(RunOptions(cap_drop=("ALL",), cap_add=("KILL",))) == ["CAP_KILL"]
    assert len(capabilities(RunOptions(cap_add=("ALL",)))) == 41
    with pytest.raises(UsageError):
        capabilities(RunOptions(cap_add=("FLY",)))


def test_seccomp_conversion_follows_capabilities_and_arch() -> None:
    def names(profile: dict[str, Any]) -> set[str]:
        return {
            n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
        }

    default = seccomp.oci_seccomp(DEFAULT_CAPS, machine="x86_64", kernel="6.1.0")
    assert default["defaultAction"] == "SCMP_ACT_ERRNO" and default["defaultErrnoRet"] == 1
    assert default["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = names(default)
    assert {"read", "execve", "arch_prctl", "ptrace"} <= allowed
    assert not {"mount", "bpf", "reboot", "s390_runtime_instr", "sync_file_range2"} & allowed
    # clone is allowed only with namespace flags masked off; clone3 answers ENOSYS.
    assert any(r["names"] == ["clone"] and r.get("args") for r in default["syscalls"])
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in default["syscalls"]
    admin = seccomp.oci_seccomp((*DEFAULT_CAPS, "CAP_SYS_ADMIN"), machine="x86_64")
    assert {"mount", "clone", "clone3"} <= names(admin)
    assert not any(
        r["names"] == ["clone3"] and r["action"] == "SCMP_ACT_ERRNO" for r in admin["syscalls"]
    )
    old = seccomp.oci_seccomp(DEFAULT_CAPS, machine="x86_64", kernel="4.4.0")
    assert "ptrace" not in names(old)


def test_users_resolved_from_the_image() -> None:
    passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n"
    group = "root:x:0:\nwww:x:33:\nadm:x:4:www,other\n"
    assert resolve("", passwd, group) == ResolvedUser(0, 0, (0,), "/root")
    assert resolve("www", passwd, group) == ResolvedUser(33, 33, (4,), "/var/www")
    assert resolve("33", passwd, group) == ResolvedUser(33, 33, (4,), "/var/www")
    assert resolve("1234", passwd, group) == ResolvedUser(1234, 0, (0,), "/")
    assert resolve("www:adm", passwd, group) == ResolvedUser(33, 4, (4,), "/var/www")
    assert resolve("1234:99", None, None) == ResolvedUser(1234, 99, (99,), "/")
    with pytest.raises(ContainerError, match="unable to find user nobody"):
        resolve("nobody", passwd, group)
    with pytest.raises(ContainerError, match="unable to find group"):
        resolve("www:nogroup", passwd, group)


def test_image_files_read_top_layer_first(tmp_path: Path) -> None:
    top, base = tmp_path / "top", tmp_path / "base"
    (base / "etc").mkdir(parents=True)
    (base / "etc/passwd").write_text("base")
    (base / "etc/group").write_text("g")
    top.mkdir()
    assert read_image_file([top, base], "etc/passwd") == "base"
    (top / "etc").mkdir()
    (top / "etc/passwd").write_text("top")
    assert read_image_file([top, base], "etc/passwd") == "top"
    assert read_image_file([top, base], "etc/group") == "g"
    assert read_image_file([top, base], "etc/shadow") is None
