"""`llmhw serve`: a local web server with the JSON API and a web form, one engine kept warm.

- ``routes``: the application (``App.handle``): ``/recommend``, ``/check``, ``/models``, ``/hardware``,
  ``/explain``, ``/audit`` answer the CLI's JSON and its one-line errors (HTTP 400 naming the field);
  ``/`` is the form and ``/report`` the HTML report with the form above it;
- ``form``: the form, one field per input slot, with each question's help and why;
- ``server``: the HTTP server (standard library), its limits, and the warm worker.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType

from .server import Server as Server
from .server import loopback as loopback
from .server import make_server as make_server

__all__ = ["Server", "make_server", "serve"]


def serve(host: str, port: int, knowledge_dirs: Iterable[str] = (), log: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly (the listening socket closed, the worker stopped)."""
    server = make_server(host, port, knowledge_dirs, log)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, so it runs on another thread; no exception crosses the loop
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not loopback(host):
            log(f"Warning: listening on {host}, not only this machine: anyone who can reach it can use it (no authentication).")
        log(f"Serving llmhw on {server.url} (the form at /, the JSON API at /recommend, /check, ...); Ctrl-C stops it.")
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
    log("Stopped.")
