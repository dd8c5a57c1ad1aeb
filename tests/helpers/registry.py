"""Registries on 127.0.0.1 for tests: Debian's `docker-registry` (the reference distribution
registry) with a temp storage dir and a free port, optionally with htpasswd basic auth, TLS from
a test CA, or token auth against a small JWT issuer; always stopped by pid.

    with RegistryServer(tmp_path / "reg") as reg:
        reg.host            # "127.0.0.1:PORT"
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# -- a test CA -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestCA:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_ca(d: Path) -> TestCA:
    """A CA and a server certificate for 127.0.0.1 / localhost, made with `openssl`."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = d / "ca.key", d / "ca.crt"
    key, csr, crt, ext = d / "server.key", d / "server.csr", d / "server.crt", d / "san.ext"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca_crt), "-days", "2", "-subj", "/CN=pycore test CA")  # fmt: skip
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return TestCA(ca_crt, crt, key)


def htpasswd_line(user: str, password: str) -> str:
    """One htpasswd line with a bcrypt hash, the only kind docker-registry accepts."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{user}:{hashed}\n"


# -- docker-registry ---------------------------------------------------------------------------


class RegistryServer:
    """`docker-registry serve` on 127.0.0.1:<free port>. `auth` is a dict merged into the
    config's `auth:` section; `tls` serves HTTPS with the given certificate."""

    def __init__(
        self,
        workdir: Path,
        *,
        auth: dict[str, Any] | None = None,
        tls: TestCA | None = None,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage = workdir / "storage"
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.auth = auth
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "registry.log"

    def _config(self) -> str:
        http: dict[str, Any] = {"addr": self.host, "secret": "pycore-tests"}
        if self.tls:
            http["tls"] = {
                "certificate": str(self.tls.server_cert),
                "key": str(self.tls.server_key),
            }
        cfg: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)}},
            "http": http,
        }
        if self.auth:
            cfg["auth"] = self.auth
        # JSON is YAML: no YAML library needed.
        return json.dumps(cfg, indent=2)

    def start(self) -> RegistryServer:
        config = self.workdir / "config.yml"
        config.write_text(self._config())
        log = self.log.open("ab")
        try:
            self.proc = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"docker-registry did not start:\n{self.log.read_text()}") from None
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would: the storage directory stays."""
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def blob_path(self, repo: str, digest: str) -> Path:
        algo, hexd = digest.split(":")
        return self.storage / "docker/registry/v2/blobs" / algo / hexd[:2] / hexd / "data"

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- a JWT token issuer for `auth: token` ----------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """The token server of distribution's token auth spec: answers `GET /token?service=...&
    scope=...` (Basic credentials checked against `users`) with an RS256 JWT whose header
    carries the signing certificate (`x5c`), which the registry checks against its bundle.
    Signing runs `openssl dgst`. Counts the tokens it issued in `issued`."""

    SERVICE = "pycore-test-registry"
    ISSUER = "pycore-test-issuer"

    def __init__(self, workdir: Path, users: dict[str, str]) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.key = workdir / "token.key"
        self.cert = workdir / "token.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             str(self.key), "-out", str(self.cert), "-days", "2", "-subj", "/CN=token issuer"],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self.users = users
        self.issued: list[tuple[str, list[str]]] = []  # (account, scopes)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def registry_auth(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": self.realm,
                "service": self.SERVICE,
                "issuer": self.ISSUER,
                "rootcertbundle": str(self.cert),
            }
        }

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                account = issuer._account(self.headers.get("Authorization"))
                if account is None:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                scopes = query.get("scope", [])
                access = []
                for scope in scopes:
                    kind, name, actions = scope.split(":")
                    # Anonymous users may pull; known users may push too.
                    allowed = [a for a in actions.split(",") if a == "pull" or account]
                    access.append({"type": kind, "name": name, "actions": allowed})
                now = int(time.time())
                claims = {
                    "iss": issuer.ISSUER,
                    "sub": account,
                    "aud": query.get("service", [""])[0],
                    "exp": now + 300,
                    "nbf": now - 10,
                    "iat": now,
                    "jti": os.urandom(8).hex(),
                    "access": access,
                }
                issuer.issued.append((account, scopes))
                body = json.dumps({"token": issuer.sign(claims), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _account(self, header: str | None) -> str | None:
        """'' for anonymous, the user name for good Basic credentials, None for bad ones."""
        if not header:
            return ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user if self.users.get(user) == password else None

    def __enter__(self) -> TokenIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- settings for pycore under test ------------------------------------------------------------


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment for a `pycore` subprocess: its own credentials file and certs.d under
    `tmp` (never the user's ~/.docker), a bounded timeout, plus `extra`."""
    env = dict(os.environ)
    env.pop("PYCORE_DEBUG", None)
    env.pop("PYCORE_ROOT", None)
    env.pop("PYCORE_INSECURE_REGISTRIES", None)
    env["PYCORE_AUTH_FILE"] = str(tmp / "auth" / "config.json")
    env["PYCORE_CERTS_DIR"] = str(tmp / "certs.d")
    env["PYCORE_REGISTRY_TIMEOUT"] = "10"
    env.update(extra)
    return env


def api_options(tmp: Path, **http: Any) -> Any:
    """RegistryOptions for in-process pulls and pushes, isolated like `cli_env`."""
    from pycore.registry import RegistryOptions
    from pycore.registry.http import HttpOptions
    from pycore.settings import DEFAULT_INSECURE_REGISTRIES

    http.setdefault("insecure", DEFAULT_INSECURE_REGISTRIES)
    http.setdefault("timeout", 10.0)
    return RegistryOptions(
        http=HttpOptions(certs_dir=tmp / "certs.d", **http),
        auth_file=tmp / "auth" / "config.json",
    )


def run_cli(
    tmp: Path, root: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `pycore --root ROOT ARGS` with the registry test environment of `tmp`."""
    return subprocess.run(
        [sys.executable, "-m", "pycore", "--root", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        input=stdin if stdin is not None else "",
        env=cli_env(tmp, **env),
    )


def error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a failed registry command (exit 1, no traceback)."""
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]
