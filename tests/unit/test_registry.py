"""Registry pieces that need no server: challenges, credentials, platform choice, manifest
kinds, insecure matching and the progress renderers."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from pycore.digest import Digest
from pycore.errors import (
    InvalidManifest,
    RegistryError,
    RegistryNotFound,
    UnsupportedMediaType,
    UsageError,
)
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, Index, Platform
from pycore.reference import Reference
from pycore.registry.auth import parse_challenges
from pycore.registry.client import _error_text, manifest_media_type
from pycore.registry.credentials import (
    DOCKER_HUB_KEY,
    AuthFile,
    Credentials,
    config_key,
    normalize_server,
)
from pycore.registry.events import TransferEvent
from pycore.registry.http import HttpOptions, Transport
from pycore.registry.pull import choose_platform, local_name, parse_platform
from pycore.settings import DEFAULT_INSECURE_REGISTRIES
from pycore.ui.transfer import TransferView

# -- WWW-Authenticate ----------------------------------------------------------------------------


def test_bearer_challenge() -> None:
    [ch] = parse_challenges(
        [
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:samalba/my-app:pull,push"'
        ]
    )
    assert ch.scheme == "bearer"
    assert ch.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:samalba/my-app:pull,push",
    }


def test_several_challenges_and_escapes() -> None:
    chs = parse_challenges(['Basic realm="a \\"b\\"", Bearer realm=http://x/t', "Negotiate"])
    assert [c.scheme for c in chs] == ["basic", "bearer", "negotiate"]
    assert chs[0].params["realm"] == 'a "b"'
    assert chs[1].params["realm"] == "http://x/t"


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "host"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("Example.COM", "example.com"),
    ],
)
def test_normalize_server(server: str, host: str) -> None:
    assert normalize_server(server) == host


def test_config_key_for_docker_hub() -> None:
    assert config_key("docker.io") == DOCKER_HUB_KEY
    assert config_key("127.0.0.1:5000") == "127.0.0.1:5000"


def test_auth_file_round_trip_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"https://other:1/v1/": {"auth": "eDp5"}}, "x": 1}))
    f = AuthFile(path)
    assert f.get("other:1") == Credentials("x", "y")
    f.store("docker.io", Credentials("me", "pw:with:colons"))
    doc = json.loads(path.read_text())
    assert doc["x"] == 1 and DOCKER_HUB_KEY in doc["auths"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f.get("index.docker.io") == Credentials("me", "pw:with:colons")
    assert f.erase("docker.io") and f.get("docker.io") is None
    assert not f.erase("docker.io")
    assert AuthFile(tmp_path / "missing.json").get("docker.io") is None


def test_identity_token_and_plain_fields(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "a:1": {"identitytoken": "tok"},
                    "b:1": {"username": "u", "password": "p"},
                }
            }
        )
    )
    assert AuthFile(path).get("a:1") == Credentials("", "", "tok")
    assert AuthFile(path).get("b:1") == Credentials("u", "p")


def test_bad_auth_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{nope")
    with pytest.raises(RegistryError, match="not valid JSON"):
        AuthFile(path).get("x:1")


def test_credentials_repr_hides_the_password() -> None:
    assert "secret" not in repr(Credentials("u", "secret"))


def test_creds_store_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = tmp_path / "docker-credential-fake"
    log = tmp_path / "log"
    helper.write_text(
        "#!/bin/sh\n"
        f'input=$(cat); echo "$1 $input" >> {log}\n'
        'case "$1" in\n'
        '  get) echo \'{"Username":"<token>","Secret":"refresh"}\' ;;\n'
        "  store|erase) ;;\n"
        "esac\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "fake"}))
    f = AuthFile(path)
    assert f.get("docker.io") == Credentials("", "", "refresh")
    f.store("r:5000", Credentials("u", "p"))
    assert json.loads(path.read_text())["auths"] == {"r:5000": {}}  # the secret is not in it
    lines = log.read_text().splitlines()
    assert lines[0] == f"get {DOCKER_HUB_KEY}"
    assert lines[1].startswith("store ") and '"Secret": "p"' in lines[1]


def test_missing_helper_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credHelpers": {"r:1": "absent"}}))
    with pytest.raises(RegistryError, match="docker-credential-absent not found"):
        AuthFile(path).get("r:1")


# -- platforms and manifests -------------------------------------------------------------------


def _entry(n: int, os: str, arch: str, variant: str | None = None) -> Descriptor:
    return Descriptor(
        mt.OCI_MANIFEST, Digest("sha256", f"{n:064x}"), 100, platform=Platform(os, arch, variant)
    )


def test_choose_platform() -> None:
    index = Index(
        (
            _entry(0, "unknown", "unknown"),
            _entry(1, "linux", "amd64"),
            _entry(2, "linux", "arm", "v6"),
            _entry(3, "linux", "arm", "v7"),
            _entry(4, "linux", "arm64"),
        )
    )
    pick = lambda p: choose_platform(index, p, "index").digest.hex[-1]  # noqa: E731
    assert pick(Platform("linux", "amd64")) == "1"
    assert pick(Platform("linux", "arm", "v7")) == "3"
    assert pick(Platform("linux", "arm64", "v8")) == "4"  # a missing variant matches
    with pytest.raises(RegistryNotFound, match="no matching manifest for linux/ppc64le"):
        pick(Platform("linux", "ppc64le"))


def test_parse_platform() -> None:
    assert parse_platform("linux/arm64/v8") == Platform("linux", "arm64", "v8")
    assert parse_platform("linux/amd64") == Platform("linux", "amd64")
    for bad in ("linux", "linux//x", "a/b/c/d"):
        with pytest.raises(UsageError):
            parse_platform(bad)


def test_manifest_media_type() -> None:
    oci = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    assert manifest_media_type(oci, "application/json", "m") == mt.OCI_MANIFEST
    idx = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert manifest_media_type(idx, "", "m") == mt.OCI_INDEX
    docker = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST}).encode()
    assert manifest_media_type(docker, mt.DOCKER_MANIFEST_LIST, "m") == mt.DOCKER_MANIFEST_LIST
    with pytest.raises(InvalidManifest, match="not JSON"):
        manifest_media_type(b"\x00\x01", mt.OCI_MANIFEST, "m")
    with pytest.raises(UnsupportedMediaType, match="schema1"):
        manifest_media_type(b'{"schemaVersion": 1}', "application/json", "m")
    art = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.cncf.helm"}).encode()
    with pytest.raises(UnsupportedMediaType, match=r"vnd\.cncf\.helm"):
        manifest_media_type(art, "", "m")


def test_error_text() -> None:
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    assert _error_text(body) == "manifest unknown"
    body = b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}'
    assert _error_text(body) == "name unknown: repository name not known"
    assert _error_text(b"<html>") == ""


def test_local_name() -> None:
    d = Digest("sha256", "a" * 64)
    assert local_name(Reference.parse("r:5000/x")) == "r:5000/x:latest"
    assert local_name(Reference.parse(f"r:5000/x:1@{d}")) == f"r:5000/x@{d}"


# -- transport decisions --------------------------------------------------------------------------


def test_insecure_registries(tmp_path: Path) -> None:
    t = Transport(HttpOptions(tmp_path, (*DEFAULT_INSECURE_REGISTRIES, "reg.lan:5000")))
    assert t.is_insecure("127.0.0.1:5000")
    assert t.is_insecure("127.9.9.9")
    assert t.is_insecure("localhost:1234")
    assert t.is_insecure("[::1]:5000")
    assert t.is_insecure("reg.lan:5000")
    assert not t.is_insecure("reg.lan:5001")
    assert not t.is_insecure("docker.io")
    assert not Transport(HttpOptions(tmp_path, ())).is_insecure("127.0.0.1:5000")


def test_secure_registry_uses_https_without_probing(tmp_path: Path) -> None:
    t = Transport(HttpOptions(tmp_path, ()))
    assert t.base_url("registry.example:443") == "https://registry.example:443"


# -- progress renderers ---------------------------------------------------------------------------

EVENTS = [
    TransferEvent("", "1: Pulling from x"),
    TransferEvent("abc", "Pulling fs layer"),
    TransferEvent("abc", "Downloading", 0, 100),
    TransferEvent("abc", "Downloading", 50, 100),
    TransferEvent("abc", "Downloading", 100, 100),
    TransferEvent("abc", "Download complete"),
    TransferEvent("abc", "Pull complete"),
]


def test_plain_lines_only_on_state_changes() -> None:
    out = io.StringIO()
    view = TransferView("plain", out)
    for e in EVENTS:
        view(e)
    view.close()
    assert out.getvalue().splitlines() == [
        "1: Pulling from x",
        "abc: Pulling fs layer",
        "abc: Downloading",
        "abc: Download complete",
        "abc: Pull complete",
    ]


def test_json_lines() -> None:
    out = io.StringIO()
    view = TransferView("json", out)
    for e in EVENTS:
        view(e)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0] == {"status": "1: Pulling from x"}
    assert {"id": "abc", "status": "Downloading", "current": 100, "total": 100} in lines
    assert lines[-1] == {"id": "abc", "status": "Pull complete"}


def test_tty_redraws_in_place() -> None:
    out = io.StringIO()
    view = TransferView("tty", out)
    view(TransferEvent("", "1: Pulling from x"))
    view(TransferEvent("abc", "Downloading", 0, 2_000_000))
    view(TransferEvent("abc", "Pull complete"))
    view.close()
    text = out.getvalue()
    assert "\x1b[2A" in text  # back over the two lines drawn before
    assert text.rstrip("\n").rsplit("\r\x1b[2K", 1)[-1] == "abc: Pull complete"
    assert "0B/2MB" in text


def test_quiet_writes_nothing() -> None:
    out = io.StringIO()
    view = TransferView("quiet", out)
    for e in EVENTS:
        view(e)
    assert out.getvalue() == ""
