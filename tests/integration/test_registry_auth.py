"""Login, credentials and TLS against docker-registry on 127.0.0.1: htpasswd basic auth, token
auth with a JWT issuer written here, and HTTPS with a test CA."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore.store.store import Store
from tests.helpers.images import build_image
from tests.helpers.registry import (
    RegistryServer,
    TokenIssuer,
    cli_env,
    error_line,
    htpasswd_line,
    make_ca,
    run_cli,
)

FILES = {"etc/hostname": "auth\n"}


def login(tmp: Path, host: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        tmp, tmp / "x", "login", "-u", user, "--password-stdin", host, stdin=password + "\n"
    )


# -- htpasswd basic auth ---------------------------------------------------------------------


@pytest.fixture
def basic_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    pw = tmp_path / "htpasswd"
    pw.write_text(htpasswd_line("alice", "s3cret"))
    auth = {"htpasswd": {"realm": "pycore-tests", "path": str(pw)}}
    with RegistryServer(tmp_path / "registry", auth=auth) as reg:
        yield reg


def test_basic_auth_login_push_pull_logout(tmp_path: Path, basic_registry: RegistryServer) -> None:
    host = basic_registry.host
    name = f"{host}/private/app:1"
    build_image(Store.open(tmp_path / "a"), [FILES], names=(name,))

    line = error_line(run_cli(tmp_path, tmp_path / "a", "push", name))
    assert host in line and "unauthorized" in line and f"pycore login {host}" in line

    line = error_line(login(tmp_path, host, "alice", "wrong"))
    assert f"login to {host} failed" in line
    auth_file = tmp_path / "auth" / "config.json"
    assert not auth_file.exists()

    res = login(tmp_path, host, "alice", "s3cret")
    assert (res.returncode, res.stdout) == (0, "Login Succeeded\n"), res.stderr
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    doc = json.loads(auth_file.read_text())
    assert doc["auths"][host]["auth"] == "YWxpY2U6czNjcmV0"  # base64("alice:s3cret")

    assert run_cli(tmp_path, tmp_path / "a", "push", name).returncode == 0
    res = run_cli(tmp_path, tmp_path / "b", "pull", name)
    assert res.returncode == 0, res.stderr

    res = run_cli(tmp_path, tmp_path / "x", "logout", host)
    assert res.stdout == f"Removing login credentials for {host}\n"
    assert host not in json.loads(auth_file.read_text())["auths"]
    assert "unauthorized" in error_line(run_cli(tmp_path, tmp_path / "c", "pull", name))
    assert run_cli(tmp_path, tmp_path / "x", "logout", host).stdout == f"Not logged in to {host}\n"


def test_credential_helper_is_used(tmp_path: Path, basic_registry: RegistryServer) -> None:
    host = basic_registry.host
    name = f"{host}/private/helper:1"
    build_image(Store.open(tmp_path / "a"), [FILES], names=(name,))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-pycoretest"
    # A credential helper speaking docker-credential-helpers' protocol: server on stdin.
    helper.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        "read server\n"
        f'[ "$server" = "{host}" ] || {{ echo "credentials not found in native keychain"; '
        "exit 1; }\n"
        'echo \'{"ServerURL":"\'$server\'","Username":"alice","Secret":"s3cret"}\'\n'
    )
    helper.chmod(0o755)
    auth_file = tmp_path / "auth" / "config.json"
    auth_file.parent.mkdir()
    auth_file.write_text(json.dumps({"credHelpers": {host: "pycoretest"}}))
    path = f"{bindir}:{cli_env(tmp_path)['PATH']}"
    res = run_cli(tmp_path, tmp_path / "a", "push", name, PATH=path)
    assert res.returncode == 0, res.stderr


# -- TLS ---------------------------------------------------------------------------------------


def test_tls_registry_with_a_test_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "ca")
    with RegistryServer(tmp_path / "registry", tls=ca) as reg:
        name = f"{reg.host}/secure/app:1"
        build_image(Store.open(tmp_path / "a"), [FILES], names=(name,))
        strict = {"PYCORE_INSECURE_REGISTRIES": ""}

        # Not insecure, no CA: the certificate is refused, and the error says what to do.
        line = error_line(run_cli(tmp_path, tmp_path / "a", "push", name, **strict))
        assert reg.host in line and "certificate not trusted" in line

        # Loopback is insecure by default: TLS without verification, as Docker does.
        assert run_cli(tmp_path, tmp_path / "a", "push", name).returncode == 0

        # With the CA in certs.d/<host:port>/ca.crt, verified TLS.
        certs = tmp_path / "certs.d" / reg.host
        certs.mkdir(parents=True)
        (certs / "ca.crt").write_bytes(ca.ca_cert.read_bytes())
        res = run_cli(tmp_path, tmp_path / "b", "pull", name, **strict)
        assert res.returncode == 0, res.stderr
        assert "Pull complete" in res.stdout


# -- token auth ------------------------------------------------------------------------------


def test_token_auth_registry(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path / "issuer", {"bob": "hunter2"})
    with issuer, RegistryServer(tmp_path / "registry", auth=issuer.registry_auth()) as reg:
        name = f"{reg.host}/tokens/app:1"
        build_image(
            Store.open(tmp_path / "a"), [FILES, {"more": "x"}, {"more2": "y"}], names=(name,)
        )
        # Anonymous tokens only allow pulls.
        line = error_line(run_cli(tmp_path, tmp_path / "a", "push", name))
        assert "unauthorized" in line and f"pycore login {reg.host}" in line

        assert error_line(login(tmp_path, reg.host, "bob", "nope")).startswith(
            f"pycore: login to {reg.host} failed"
        )
        assert login(tmp_path, reg.host, "bob", "hunter2").returncode == 0

        issued_before = len(issuer.issued)
        res = run_cli(tmp_path, tmp_path / "a", "push", name)
        assert res.returncode == 0, res.stderr
        # One token per scope set, cached across the parallel blob uploads.
        pushed_tokens = issuer.issued[issued_before:]
        assert len(pushed_tokens) <= 2, pushed_tokens
        assert all(acct == "bob" for acct, _ in pushed_tokens)
        assert ["repository:tokens/app:pull,push"] in [s for _, s in pushed_tokens]

        # A fresh client without credentials pulls with an anonymous token.
        (tmp_path / "auth" / "config.json").unlink()
        res = run_cli(tmp_path, tmp_path / "b", "pull", name)
        assert res.returncode == 0, res.stderr
        assert ("", ["repository:tokens/app:pull"]) in issuer.issued
