"""`--change` instructions applied to an image config (pycore.changes)."""

from __future__ import annotations

import pytest

from pycore.changes import apply_changes
from pycore.errors import UsageError


@pytest.mark.parametrize(
    ("change", "key", "want"),
    [
        ("CMD echo hi", "Cmd", ["/bin/sh", "-c", "echo hi"]),
        ('CMD ["/bin/app", "-v"]', "Cmd", ["/bin/app", "-v"]),
        ("cmd [not json", "Cmd", ["/bin/sh", "-c", "[not json"]),
        ('ENTRYPOINT ["/init"]', "Entrypoint", ["/init"]),
        ("ENTRYPOINT exec nginx", "Entrypoint", ["/bin/sh", "-c", "exec nginx"]),
        ("USER 1000:1000", "User", "1000:1000"),
        ("WORKDIR /srv/app", "WorkingDir", "/srv/app"),
        ("STOPSIGNAL SIGQUIT", "StopSignal", "SIGQUIT"),
        ("STOPSIGNAL 9", "StopSignal", "9"),
        ("EXPOSE 80 53/udp", "ExposedPorts", {"80/tcp": {}, "53/udp": {}}),
        ("EXPOSE 8000-8001", "ExposedPorts", {"8000/tcp": {}, "8001/tcp": {}}),
        ("VOLUME /data /logs", "Volumes", {"/data": {}, "/logs": {}}),
        ('VOLUME ["/data"]', "Volumes", {"/data": {}}),
        ('LABEL a=b "c d"=e', "Labels", {"a": "b", "c d": "e"}),
        ("LABEL legacy some value", "Labels", {"legacy": "some value"}),
    ],
)
def test_each_instruction(change: str, key: str, want: object) -> None:
    assert apply_changes({}, [change])[key] == want


def test_env_forms_and_override() -> None:
    config = apply_changes(
        {"Env": ["PATH=/bin", "A=0"]},
        ['ENV A=1 B="two words"', "ENV C three four", "env A=2"],
    )
    assert config["Env"] == ["PATH=/bin", "B=two words", "C=three four", "A=2"]


def test_relative_workdir_builds_on_the_previous_one() -> None:
    assert apply_changes({}, ["WORKDIR /a", "WORKDIR b/../c"])["WorkingDir"] == "/a/c"


def test_input_is_not_mutated() -> None:
    before = {"Env": ["A=1"], "Labels": {"x": "y"}}
    apply_changes(before, ["ENV A=2", "LABEL x=z"])
    assert before == {"Env": ["A=1"], "Labels": {"x": "y"}}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("RUN apt-get update", "unsupported instruction"),
        ("CMD", "needs an argument"),
        ("EXPOSE http", "invalid port"),
        ("EXPOSE 9-1", "invalid port range"),
        ("VOLUME data", "absolute path"),
        ("ENV =x", "not key=value"),
        ("STOPSIGNAL kill me", "invalid signal"),
    ],
)
def test_errors_name_the_change(change: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        apply_changes({}, [change])
    assert fragment in str(info.value)
    assert change in str(info.value)
