"""Headless Chromium driven over the DevTools protocol on a pipe (no extra package, no network port).

The browser reads commands from fd 3 and writes replies and events to fd 4, NUL-separated JSON
(``--remote-debugging-pipe``). Tests load a page, read its console errors and the network requests it
made, measure elements, fill a form and take screenshots. ``find()`` is None where no Chromium is installed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find() -> str | None:
    """The Chromium executable on PATH, if any."""
    return next((path for path in map(shutil.which, NAMES) if path), None)


class BrowserError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, executable: str, width: int = 1200, height: int = 900, timeout_s: float = 30) -> None:
        self.timeout_s = timeout_s
        self.profile = tempfile.TemporaryDirectory(prefix="llmhw-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: the protocol's fixed descriptors (moved up first, in case they are 3 or 4)
            high_r, high_w = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=wire,
            pass_fds=(3, 4, to_browser_r, from_browser_w), close_fds=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.profile.cleanup()

    # -- the protocol -------------------------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser in {self.timeout_s:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("the browser closed its pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def wait_for(self, method: str, after: int = 0) -> dict[str, Any]:
        """The first event ``method`` from index ``after`` of ``events``, waiting for it if needed."""
        while True:
            for event in self.events[after:]:
                if event.get("method") == method:
                    return event
            after = len(self.events)
            event = self._read()
            self.events.append(event)

    # -- what tests do ------------------------------------------------------------------------------------------

    def load(self, url: str) -> None:
        """Navigate and wait for the load event."""
        mark = len(self.events)
        self.send("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired", mark)

    def resize(self, width: int, height: int, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1, "mobile": mobile}, session=True)

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-able), awaiting a promise."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression[:60]}: {reply['exceptionDetails'].get('text')}")
        return reply.get("result", {}).get("value")

    def submit(self, form_selector: str, button_selector: str | None = None) -> None:
        """Submit a form (by its button when given, as a user would) and wait for the next page to load."""
        mark = len(self.events)
        target = f"document.querySelector({json.dumps(button_selector)}).click()" if button_selector else \
            f"document.querySelector({json.dumps(form_selector)}).requestSubmit()"
        self.evaluate(f"setTimeout(() => {target}, 0), true")
        self.wait_for("Page.loadEventFired", mark)

    def screenshot(self, path: Path, full_page: bool = True) -> bytes:
        """A PNG of the page (the whole page by default), written to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1})
        data = base64.b64decode(self.send("Page.captureScreenshot", params, session=True)["data"])
        path.write_bytes(data)
        return data

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and browser log errors seen so far."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                out.append(str(params["entry"].get("text")))
        return out

    def requested(self) -> list[str]:
        """Every URL the page requested so far."""
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]


def main() -> None:
    """``python -m tests.chromium PAGE OUT.png [WIDTH] [SELECTOR]``: a screenshot of a page, down to the end of SELECTOR.

    docs/report.png is made this way from the demo consultation's report.
    """
    import sys

    page, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 1100
    executable = find()
    if executable is None:
        raise SystemExit("no Chromium on PATH")
    with Chromium(executable, width=width) as browser:
        browser.load(page.as_uri())
        if len(sys.argv) > 4:
            bottom = browser.evaluate(f"document.querySelector({json.dumps(sys.argv[4])}).getBoundingClientRect().bottom + 16")
            data = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                           "clip": {"x": 0, "y": 0, "width": width, "height": bottom, "scale": 1}}, session=True)
            out.write_bytes(base64.b64decode(data["data"]))
        else:
            browser.screenshot(out)


if __name__ == "__main__":
    main()
