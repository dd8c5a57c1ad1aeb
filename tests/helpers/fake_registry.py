"""A tiny HTTP "registry" on 127.0.0.1 for fault tests: it serves whatever bytes a test puts
in `routes` (a tampered blob, a manifest that is not JSON, a 429), can hold a request without
answering (a stalled server), and records every request. It never speaks TLS: a TLS
ClientHello is answered by closing the connection, which a client reads as "plain HTTP".

    with FakeRegistry() as fake:
        fake.routes["/v2/x/manifests/1"] = Reply(200, b"not json", {"Content-Type": "..."})
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_STALL_LIMIT = 60.0  # a stalled request is let go after this long at the latest
PIECE = 256 << 10  # body bytes between two calls of `Reply.pace`


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False  # hold the request, answering nothing, until the server stops
    # Called with the bytes of the body sent so far before each piece of `PIECE` bytes: a test
    # can hold a download mid-body and look at what the client did with the first part.
    pace: Callable[[int], None] | None = None


Route = Reply | Callable[[str, str, dict[str, str]], Reply]


class FakeRegistry:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {"/v2/": Reply(200, b"{}")}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve_image(
        self, repo: str, tag: str, manifest: bytes, media_type: str, blobs: dict[str, bytes]
    ) -> None:
        """Serve a manifest under `tag` and by digest, and `blobs` (digest -> bytes)."""
        import hashlib

        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        for ref in (tag, digest):
            self.routes[f"/v2/{repo}/manifests/{ref}"] = Reply(200, manifest, dict(headers))
        for d, data in blobs.items():
            self.routes[f"/v2/{repo}/blobs/{d}"] = Reply(
                200, data, {"Content-Type": "application/octet-stream"}
            )

    def _reply(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        self.requests.append((method, path, headers))
        route = self.routes.get(path.split("?", 1)[0])
        if route is None:
            body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
            return Reply(404, body, {"Content-Type": "application/json"})
        return route(method, path, headers) if callable(route) else route

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    first = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return
                if first == b"\x16":  # a TLS handshake: we are plain HTTP, hang up
                    return
                super().handle()

            def _serve(self, method: str) -> None:
                reply = fake._reply(method, self.path, dict(self.headers.items()))
                if reply.stall:
                    fake._release.wait(_STALL_LIMIT)
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if method == "HEAD":
                    return
                if reply.pace is None:
                    self.wfile.write(reply.body)
                    return
                for start in range(0, len(reply.body), PIECE):
                    reply.pace(start)
                    self.wfile.write(reply.body[start : start + PIECE])
                    self.wfile.flush()

            def do_GET(self) -> None:
                self._serve("GET")

            def do_HEAD(self) -> None:
                self._serve("HEAD")

        return Handler

    def __enter__(self) -> FakeRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
