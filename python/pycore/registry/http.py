"""HTTP for registries over `http.client`: TLS through `ssl` with per-registry CAs from a
certs.d directory, plain HTTP for insecure registries, bounded timeouts, and retries with
backoff on 5xx answers and dropped connections. Knows nothing of the distribution API."""

from __future__ import annotations

import contextlib
import errno
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

from pycore.errors import RegistryError, RegistryTimeout, RegistryUnreachable
from pycore.structs import struct

_RETRY_STATUS = frozenset({500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_RETRY_AFTER = 10.0  # seconds of Retry-After (429) we are willing to wait
_BLOCK = 1 << 20
_PROBE_TIMEOUT = 3.0  # seconds a TLS handshake may take before we assume plain HTTP


@struct(frozen=True, slots=True)
class HttpOptions:
    """How to reach registries. `insecure` holds host[:port] names or CIDRs whose registries may
    be spoken to without TLS verification, or over plain HTTP when they have no TLS at all."""

    certs_dir: Path
    insecure: tuple[str, ...] = ()
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_redirects: int = 5


@struct(frozen=True, slots=True)
class FileBody:
    """`length` bytes of the file `path` from `offset`: a request body that can be re-sent."""

    path: Path
    offset: int
    length: int


Body = bytes | FileBody | None


class _Slice:
    """A file-like view of a FileBody for http.client, which reads it in `blocksize` pieces."""

    def __init__(self, f: BinaryIO, length: int) -> None:
        self._f = f
        self._left = length

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data


class Response:
    """One answer. Read the body (`read_all`, `readinto`) then `close()`, or use `with`: a fully
    read body gives its connection back for reuse, an abandoned one closes it."""

    def __init__(
        self, raw: http.client.HTTPResponse, conn: http.client.HTTPConnection, pool: _Pool, url: str
    ) -> None:
        self._raw = raw
        self._conn: http.client.HTTPConnection | None = conn
        self._pool = pool
        self.url = url
        self.status = raw.status
        self.reason = raw.reason

    def header(self, name: str) -> str | None:
        return self._raw.getheader(name)

    def header_all(self, name: str) -> list[str]:
        return self._raw.headers.get_all(name) or []

    def read_all(self, limit: int = 4 << 20) -> bytes:
        """The whole body, refusing more than `limit` bytes (manifests, tokens, errors)."""
        try:
            data = self._raw.read(limit + 1)
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise transport_error(urlsplit(self.url).netloc, e) from e
        if len(data) > limit:
            self.close()
            raise RegistryError(f"{urlsplit(self.url).netloc}: response larger than {limit} bytes")
        self.close()
        return data

    def readinto(self, buf: memoryview) -> int:
        """Read the next piece of the body into `buf`; 0 at the end. Raises OSError or
        http.client.IncompleteRead when the connection drops (callers may resume)."""
        return self._raw.readinto(buf)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._raw.isclosed() and not self._raw.will_close:
            self._pool.put(conn)
        else:
            self._raw.close()
            conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pool:
    """Idle keep-alive connections to one scheme://host:port."""

    def __init__(self, scheme: str, netloc: str, context: ssl.SSLContext | None, timeout: float):
        self.scheme = scheme
        self.netloc = netloc
        self._context = context
        self._timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        if self.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.netloc, timeout=self._timeout, context=self._context, blocksize=_BLOCK
            )
        else:
            conn = http.client.HTTPConnection(self.netloc, timeout=self._timeout, blocksize=_BLOCK)
        return conn, False

    def put(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < 8:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()


class Transport:
    """Connections to registries and token servers, shared by threads. Decides per host
    between verified TLS, unverified TLS and plain HTTP, and remembers the decision."""

    def __init__(self, options: HttpOptions) -> None:
        self.options = options
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._schemes: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for p in pools:
            p.close()

    # -- choosing how to talk to a host ----------------------------------------------------

    def base_url(self, host: str) -> str:
        """`https://host` or `http://host` for a registry host (`name[:port]`)."""
        with self._lock:
            scheme = self._schemes.get(host)
        if scheme is None:
            scheme = self._choose_scheme(host)
            with self._lock:
                self._schemes[host] = scheme
        return f"{scheme}://{host}"

    def _choose_scheme(self, host: str) -> str:
        # A CA configured for the host is an explicit request for verified TLS, even on
        # loopback; otherwise insecure hosts get TLS if they speak it (unverified) or plain HTTP,
        # which is Docker's order for insecure registries.
        if self._ca_files(host) or not self.is_insecure(host):
            return "https"
        hostname, port = _split_host(host, 443)
        try:
            s = socket.create_connection((hostname, port), timeout=self.options.timeout)
        except OSError as e:
            raise transport_error(host, e) from e
        # A plain-HTTP server answers a ClientHello with an HTTP error, a reset, or (waiting
        # for a newline that never comes) not at all: each of those means "no TLS here".
        s.settimeout(min(self.options.timeout, _PROBE_TIMEOUT))
        try:
            with self._context(host).wrap_socket(s, server_hostname=hostname):
                return "https"
        except (ssl.SSLError, ConnectionError, TimeoutError):
            return "http"
        except OSError as e:
            raise transport_error(host, e) from e
        finally:
            s.close()

    def is_insecure(self, host: str) -> bool:
        """Whether `host` (`name[:port]`) matches the insecure list (names or CIDRs)."""
        name, _ = _split_host(host, 0)
        for entry in self.options.insecure:
            if entry in (host, name):
                return True
            if "/" in entry:
                try:
                    net = ipaddress.ip_network(entry, strict=False)
                    if ipaddress.ip_address(name) in net:
                        return True
                except ValueError:
                    continue
        return False

    def _ca_files(self, host: str) -> list[Path]:
        d = self.options.certs_dir / host
        try:
            return sorted(p for p in d.iterdir() if p.suffix == ".crt")
        except OSError:
            return []

    def _context(self, host: str) -> ssl.SSLContext:
        cas = self._ca_files(host)
        if not cas and self.is_insecure(host):
            # Nothing is verified, so the system CA store is not loaded (30 ms on each pull
            # from a loopback registry, even a plain-HTTP one: the TLS probe needs a context).
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        ctx = ssl.create_default_context()
        for ca in cas:
            ctx.load_verify_locations(cafile=str(ca))
        # Docker's certs.d convention for client certificates: name.cert with name.key.
        d = self.options.certs_dir / host
        with contextlib.suppress(OSError):
            for cert in sorted(d.glob("*.cert")):
                key = cert.with_suffix(".key")
                if key.exists():
                    ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def _pool(self, scheme: str, netloc: str) -> _Pool:
        with self._lock:
            pool = self._pools.get((scheme, netloc))
        if pool is not None:
            return pool
        ctx = self._context(netloc) if scheme == "https" else None
        with self._lock:
            return self._pools.setdefault(
                (scheme, netloc), _Pool(scheme, netloc, ctx, self.options.timeout)
            )

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        follow_redirects: bool = True,
    ) -> Response:
        """Send one request, retrying 5xx and dropped connections (not PATCH, whose retry could
        duplicate data), and following redirects (dropping Authorization across hosts).

        Raises RegistryUnreachable / RegistryTimeout when no answer could be had; any HTTP
        status, including errors, is returned for the caller to interpret.
        """
        hdrs = dict(headers or {})
        for _ in range(self.options.max_redirects + 1):
            resp = self._send_with_retries(method, url, hdrs, body)
            if not follow_redirects or resp.status not in _REDIRECTS:
                return resp
            location = resp.header("Location")
            resp.read_all(1 << 16)
            if not location:
                return resp
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                hdrs.pop("Authorization", None)
            if resp.status == 303:
                method, body = "GET", None
            url = target
        raise RegistryError(f"{urlsplit(url).netloc}: too many redirects")

    def _send_with_retries(
        self, method: str, url: str, headers: dict[str, str], body: Body
    ) -> Response:
        parts = urlsplit(url)
        pool = self._pool(parts.scheme, parts.netloc)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        retryable = method != "PATCH"
        attempt = 0
        while True:
            conn, reused = pool.get()
            try:
                raw = self._send(conn, method, path, headers, body)
            except TimeoutError as e:
                conn.close()
                raise transport_error(parts.netloc, e) from e
            except (ssl.SSLError, ssl.CertificateError) as e:
                conn.close()
                raise transport_error(parts.netloc, e) from e
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if reused:
                    continue  # a keep-alive connection the server had closed: not a failure
                if retryable and attempt < self.options.retries and _transient(e):
                    time.sleep(self.options.backoff * (2.0**attempt))
                    attempt += 1
                    continue
                raise transport_error(parts.netloc, e) from e
            resp = Response(raw, conn, pool, url)
            delay = self._retry_delay(resp, attempt) if retryable else None
            if delay is None:
                return resp
            with contextlib.suppress(RegistryError):
                resp.read_all(1 << 16)
            time.sleep(delay)
            attempt += 1

    def _retry_delay(self, resp: Response, attempt: int) -> float | None:
        if attempt >= self.options.retries:
            return None
        if resp.status in _RETRY_STATUS:
            return self.options.backoff * (2.0**attempt)
        if resp.status == 429:
            after = _retry_after(resp.header("Retry-After"))
            if after is not None and after <= _MAX_RETRY_AFTER:
                return after
        return None

    @staticmethod
    def _send(
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Body,
    ) -> http.client.HTTPResponse:
        hdrs = {"User-Agent": "pycore/0.1", **headers}
        if isinstance(body, FileBody):
            hdrs["Content-Length"] = str(body.length)
            with body.path.open("rb") as f:
                f.seek(body.offset)
                conn.request(method, path, body=_Slice(f, body.length), headers=hdrs)
        else:
            if body is not None or method in ("PUT", "POST", "PATCH"):
                hdrs.setdefault("Content-Length", str(len(body or b"")))
            conn.request(method, path, body=body, headers=hdrs)
        return conn.getresponse()


def _transient(e: BaseException) -> bool:
    if isinstance(e, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return True
    if isinstance(e, ConnectionError):  # reset, refused, aborted, broken pipe
        return True
    return isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _split_host(host: str, default_port: int) -> tuple[str, int]:
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, int(rest[1:]) if rest.startswith(":") else default_port
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return name, int(port)
    return host, default_port


def transport_error(host: str, e: BaseException) -> RegistryError:
    """A one-line error naming the registry and why it could not be talked to."""
    if isinstance(e, TimeoutError):
        return RegistryTimeout(f"registry {host} did not answer in time (timed out)")
    if isinstance(e, ssl.SSLCertVerificationError):
        return RegistryUnreachable(
            f"registry {host}: TLS certificate not trusted ({e.verify_message}); "
            f"add its CA as certs.d/{host}/ca.crt or list it as an insecure registry"
        )
    if isinstance(e, ssl.SSLError | ssl.CertificateError):
        return RegistryUnreachable(f"registry {host}: TLS handshake failed: {e}")
    if isinstance(e, ConnectionRefusedError):
        return RegistryUnreachable(f"registry {host} is unreachable: connection refused")
    if isinstance(e, socket.gaierror):
        return RegistryUnreachable(f"registry {host} is unreachable: cannot resolve the name")
    if isinstance(e, ConnectionError | http.client.RemoteDisconnected):
        return RegistryUnreachable(f"registry {host} closed the connection ({type(e).__name__})")
    if isinstance(e, OSError):
        return RegistryUnreachable(f"registry {host} is unreachable: {e.strerror or e}")
    return RegistryUnreachable(f"registry {host}: {type(e).__name__}: {e}")
