"""`pycore run` / `create` pull an image that is not in the store, as Docker does, from the
registry the reference names (Debian's docker-registry on 127.0.0.1); `--pull always|never`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.containers import Run, busybox_root, cli_with_teardown, pycore_at
from tests.helpers.registry import RegistryServer

pytestmark = [pytest.mark.root, pytest.mark.needs("docker-registry")]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with busybox, to push from."""
    return busybox_root(tmp_path_factory, "pull-src")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path / "registry") as reg:
        yield reg


@pytest.fixture
def pc(tmp_path: Path) -> Iterator[Run]:
    """An empty store: every image must come from the registry."""
    yield from cli_with_teardown(tmp_path / "store")


def _push(source: Path, registry: RegistryServer) -> str:
    name = f"{registry.host}/pulltest/busybox:1"
    assert pycore_at(source, "tag", "busybox", name).returncode == 0
    r = pycore_at(source, "push", name)
    assert r.returncode == 0, r.stderr
    assert pycore_at(source, "rmi", name).returncode == 0
    return name


def test_run_pulls_a_missing_image_then_runs_it(
    source: Path, registry: RegistryServer, pc: Run
) -> None:
    name = _push(source, registry)
    r = pc("run", "--rm", name, "echo", "pulled and ran")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pulled and ran\n"
    assert f"Unable to find image '{name}' locally" in r.stderr
    repo, _, tag = name.rpartition(":")
    listed = [json.loads(ln) for ln in pc("images", "--format", "json").stdout.splitlines()]
    assert [(i["Repository"], i["Tag"]) for i in listed] == [(repo, tag)]
    # Present now: the next run does not pull (the registry is gone, yet it runs).
    registry.stop()
    r = pc("run", "--rm", name, "true")
    assert r.returncode == 0, r.stderr
    assert "Unable to find image" not in r.stderr


def test_create_pulls_too_and_pull_always_refreshes(
    source: Path, registry: RegistryServer, pc: Run
) -> None:
    name = _push(source, registry)
    r = pc("create", "--pull", "missing", name, "true")
    assert r.returncode == 0, r.stderr
    assert pc("rm", r.stdout.strip()).returncode == 0
    r = pc("run", "--rm", "--pull", "always", name, "true")
    assert r.returncode == 0, r.stderr
    registry.stop()
    r = pc("run", "--rm", "--pull", "always", name, "true")
    assert r.returncode == 125
    assert r.stderr.startswith("pycore: ") and len(r.stderr.strip().splitlines()) == 1
    assert registry.host in r.stderr


def test_pull_never_and_short_names_give_a_clear_not_found(
    source: Path, registry: RegistryServer, pc: Run
) -> None:
    name = _push(source, registry)
    r = pc("run", "--rm", "--pull", "never", name, "true")
    assert r.returncode == 125
    assert r.stderr.strip() == f"pycore: Unable to find image '{name}' locally"
    # A short name names no registry: no network traffic, one clear line.
    r = pc("run", "--rm", "no-such-image", "true")
    assert r.returncode == 125
    assert r.stderr.strip() == (
        "pycore: Unable to find image 'no-such-image:latest' locally; "
        "no registry is named to pull it from"
    )
    r = pc("run", "--rm", "--pull", "sometimes", name, "true")
    assert r.returncode == 125
    assert "invalid --pull 'sometimes'" in r.stderr
    assert pc("ps", "-a", "-q").stdout == ""  # nothing was created by the failures
