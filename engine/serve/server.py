"""The HTTP server: the standard library's threading server, one engine kept warm, and limits on every request.

Connections are handled on their own threads, but consultations run on one worker thread whose engine
stays built between requests (building it is the costly part; see ``session``): a warm answer takes
tens of milliseconds instead of a process start. Limits: a request body of at most ``MAX_BODY_BYTES``
(413 otherwise), a client that stalls for ``READ_TIMEOUT_S`` is dropped, and an answer that takes longer
than ``ANSWER_TIMEOUT_S`` is a 503. Bound to loopback, requests naming another host are refused (a web
page elsewhere cannot reach the server through DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as AnswerTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .routes import App, Reply, error_reply

MAX_BODY_BYTES = 20_000_000  # a trace document for /audit or /explain can be a few MB; the CLI reads at most 20 MB too
READ_TIMEOUT_S = 15
ANSWER_TIMEOUT_S = 60
WARM_UP = {"model": "deepseek-r1:7b"}  # one consultation at start builds the engine before the first request


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class Server(ThreadingHTTPServer):
    """The llmhw web server: an ``App``, and the one worker thread that runs its consultations."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: App, log: Callable[[str], None]) -> None:
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmhw-engine")  # no thread until the first task
        super().__init__(address, Handler)  # binds first: a port in use fails before any work
        self.app, self.log = app, log
        self.worker.submit(app.handle, "GET", "/recommend", "&".join(f"{k}={v}" for k, v in WARM_UP.items()), b"").result()
        self.local_only = loopback(address[0])

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def answer(self, method: str, path: str, query: str, body: bytes) -> Reply:
        future = self.worker.submit(self.app.handle, method, path, query, body)
        try:
            return future.result(timeout=ANSWER_TIMEOUT_S)
        except AnswerTimeout:
            return error_reply(503, "request", f"no answer within {ANSWER_TIMEOUT_S} s; the server is busy or the question too large")

    def server_close(self) -> None:
        super().server_close()
        self.worker.shutdown(wait=False, cancel_futures=True)


class Handler(BaseHTTPRequestHandler):
    """One request: read within the limits, answer on the worker, write the reply."""

    server: Server
    server_version = "llmhw"
    timeout = READ_TIMEOUT_S

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        if self.server.local_only and not loopback(host):
            reply = error_reply(400, "Host", f"this server answers only on localhost, got {host[:60]!r}")
        else:
            reply = self._read_and_answer(method, url.path, url.query)
        try:
            self._send(reply)
        except OSError:  # the client went away: nothing to answer
            self.close_connection = True
        self.log_message('"%s %s" %d %.0f ms', method, url.path, reply.status, (time.perf_counter() - started) * 1000)

    def _read_and_answer(self, method: str, path: str, query: str) -> Reply:
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            return error_reply(400, "Content-Length", f"expected a number of bytes, got {raw[:40]!r}")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            return error_reply(413, "body", f"at most {MAX_BODY_BYTES:,} bytes, got {length:,}")
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.close_connection = True
            return error_reply(408, "body", f"{length:,} bytes announced, not received within {self.timeout} s")
        return self.server.answer(method, path, query, body)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if reply.content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
        self.end_headers()
        self.wfile.write(reply.body)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Logged once the answer is written, with its time (``_serve``), not when the status line goes out."""

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.address_string()} {format % args}")


def make_server(host: str, port: int, knowledge_dirs: Iterable[str] = (), log: Callable[[str], None] = print) -> Server:
    """A server bound to ``host:port`` (port 0: a free one), its engine warm; serve it with ``serve_forever()``."""
    return Server((host, port), App(knowledge_dirs), log)
