"""`llmhw serve`: a real server process on a free loopback port, driven over HTTP and (where installed) in
headless Chromium. Its JSON is the CLI's, byte for byte; its errors are the CLI's one line, as HTTP 400 naming
the field; it survives bad and oversized requests, and stops cleanly."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llmhw.cli import main
from llmhw.serve import make_server
from llmhw.serve import server as server_module

from . import chromium
from .test_golden import CASES

DEMO = next(c for c in CASES if c["name"] == "demo-r1-70b-team-20-users")
CHECK = next(c for c in CASES if c["name"] == "check-llama-70b-2x4090-q4")


class Served:
    """A running `llmhw serve` process and a small HTTP client for it."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc, self.url = proc, url
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 0

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            return reply.status, reply.getheader("Content-Type") or "", reply.read().decode()
        finally:
            conn.close()

    def get(self, path: str, **params: Any) -> tuple[int, str, str]:
        return self.request("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""))

    def post(self, path: str, data: Any) -> tuple[int, str, str]:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json"})


def start(*args: str) -> tuple[subprocess.Popen[str], str, threading.Thread, list[str]]:
    """Start `llmhw serve`, read the address it announces on stderr, and keep reading its log (into the list)."""
    proc = subprocess.Popen([sys.executable, "-m", "llmhw.cli", "serve", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.search(r"Serving llmhw on (http://\S+/)", line)
    if not found:
        proc.kill()
        raise AssertionError(f"no address announced: {line}{proc.stderr.read()}")
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr or ()), daemon=True)
    reader.start()
    return proc, found.group(1), reader, log


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    proc, url, _, _ = start("--port", "0")
    assert url.startswith("http://127.0.0.1:")
    yield Served(proc, url)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def cli(runner: Any, *args: str) -> str:
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def query(args: list[str]) -> dict[str, str]:
    """CLI options as the API's query parameters: `--concurrency 20` is `concurrency=20`."""
    pairs = dict(zip(args[1::2], args[2::2], strict=False))
    return {k.lstrip("-").replace("-", "_").replace("ram", "ram_gb"): v for k, v in pairs.items()}


# -- the JSON API mirrors the CLI --------------------------------------------------------------------------


def test_recommend_answers_the_cli_json_byte_for_byte(served: Served, runner) -> None:
    status, kind, body = served.get("/recommend", **query(DEMO["args"]))
    assert (status, kind) == (200, "application/json")
    assert body == cli(runner, *DEMO["args"], "--format", "json")


def test_check_by_post_answers_the_cli_json(served: Served, runner) -> None:
    fields: dict[str, Any] = query(CHECK["args"])
    fields["count"], fields["context"] = 2, 8192  # JSON numbers work as well as strings
    status, _, body = served.post("/check", fields)
    assert status == 200
    assert body == cli(runner, *CHECK["args"], "--format", "json")


@pytest.mark.parametrize("name", ["models", "hardware"])
def test_catalog_listings_are_the_cli_json(served: Served, runner, name: str) -> None:
    assert served.get(f"/{name}") == (200, "application/json", cli(runner, name, "--format", "json"))


def test_explain_and_audit_a_trace(served: Served, runner, tmp_path: Path) -> None:
    trace_file = tmp_path / "run.json"
    cli(runner, *DEMO["args"], "--trace", str(trace_file))
    status, _, body = served.request("POST", "/explain?conclusion=QNT-quantize-to-fit", trace_file.read_bytes())
    assert status == 200
    explained = json.loads(body)
    assert [c["key"] for c in explained["conclusions"]] == ["QNT-quantize-to-fit"]
    assert explained["conclusions"][0]["node"]["rule_id"] == "QNT-quantize-to-fit"
    recommended = next(t for t in json.loads(cli(runner, *DEMO["args"], "--format", "json"))["recommendations"]
                       if t["tier"] == "recommended")
    status, _, body = served.get("/explain", **query(DEMO["args"]), conclusion="recommended")
    assert status == 200 and json.loads(body)["conclusions"][0]["summary"].startswith(
        f"recommended: {recommended['count']} x {recommended['hardware_name']} at {recommended['precision']}")
    status, _, body = served.request("POST", "/audit", trace_file.read_bytes())
    assert status == 200
    assert json.loads(body) == json.loads(cli(runner, "audit", str(trace_file), "--format", "json"))


# -- bad requests: the CLI's one line, as HTTP 400 naming the field; the server stays up --------------------------

BAD = [
    ("GET", "/recommend?model=deepseek-r1:70b&context=0", None, 400, "context",
     "context: expected a number from 1 to 10,000,000, got '0'"),
    ("GET", "/recommend?model=deepseek-r1:70b&contxt=8192", None, 400, "contxt", "contxt: unknown field; did you mean 'context'?"),
    ("GET", "/recommend?model=no-such-model-at-all", None, 400, "model", None),
    ("GET", "/recommend", None, 400, "model", "model: required; `llmhw models` lists the models"),
    ("POST", "/recommend", b'{"model": "gpt-oss-20b"', 400, "body", None),
    ("POST", "/recommend", b'["gpt-oss-20b"]', 400, "body", "body: expected a JSON object, got list"),
    ("POST", "/recommend", json.dumps({"model": "gpt-oss-20b", "concurrency": 10**400}).encode(), 400, "concurrency", None),
    ("GET", "/recommend?model=" + "x" * 5000, None, 400, "model", None),
    ("GET", "/check?model=llama-3.1-8b&hardware=h100-sxm&count=two", None, 400, "count", "count: expected a whole number, got 'two'"),
    ("GET", "/check?model=llama-3.1-8b", None, 400, "hardware", "hardware: required: an accelerator name or id (`/hardware` lists them)"),
    ("POST", "/audit", b'{"format": "llmhw-trace"}', 400, "trace", None),
    ("GET", "/audit", None, 405, "method", "method: /audit accepts POST, got GET"),
    ("GET", "/nowhere", None, 404, "path", None),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "field", "message"), BAD, ids=[f"{b[3]}-{b[4]}-{i}" for i, b in enumerate(BAD)])
def test_bad_requests_are_refused_with_the_field_named(served: Served, method: str, path: str, body: bytes | None, status: int,
                                                       field: str, message: str | None) -> None:
    got, kind, text = served.request(method, path, body)
    error = json.loads(text)
    assert (got, kind, error["field"]) == (status, "application/json", field), error
    assert "\n" not in error["error"] and error["error"].startswith(f"{field}: ")
    if message:
        assert error["error"] == message
    assert served.get("/models")[0] == 200  # still serving


def test_the_same_bad_input_gets_the_cli_message(served: Served, runner) -> None:
    result = runner.invoke(main, ["recommend", "--model", "deepseek-r1:70b", "--context", "0"])
    assert result.exit_code == 2
    _, _, text = served.get("/recommend", model="deepseek-r1:70b", context="0")
    assert result.stderr == f"Error: {json.loads(text)['error']}\n"


def test_an_oversized_body_is_refused_unread(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=30) as sock:
        sock.sendall(b"POST /audit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 999999999999\r\n\r\n{")
        answer = sock.makefile("rb").read().decode()  # up to the server closing the connection
    assert answer.startswith("HTTP/1.0 413 ")
    assert '"error": "body: at most 20,000,000 bytes, got 999,999,999,999"' in answer
    assert served.get("/models")[0] == 200


def test_only_loopback_host_names_are_answered(served: Served) -> None:
    status, _, text = served.request("GET", "/models", headers={"Host": "attacker.example:80"})
    assert (status, json.loads(text)["error"]) == (400, "Host: this server answers only on localhost, got 'attacker.example'")
    assert served.request("GET", "/models", headers={"Host": f"localhost:{served.port}"})[0] == 200


# -- the web page ---------------------------------------------------------------------------------------------


def test_the_form_asks_every_input_with_its_help_and_why(served: Served) -> None:
    from llmhw.profile import SLOTS

    status, kind, page = served.get("/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    for slot in SLOTS:
        assert f'name="{slot.name}"' in page and slot.question.replace("'", "&#x27;") in page
    assert '<option value="deepseek-r1-distill-llama-70b">' in page  # the model list
    assert "<summary>why:" in page


def test_the_report_page_is_the_cli_report_with_the_form_above(served: Served, runner) -> None:
    status, _, page = served.get("/report", **query(DEMO["args"]))
    assert status == 200
    standalone = cli(runner, *DEMO["args"], "--format", "html")
    body = standalone.split("<main>\n", 1)[1]
    assert page.endswith(body)  # the same report, after the form
    assert '<input id="f-concurrency" name="concurrency" placeholder="1" type="text" inputmode="numeric" value="20">' in page


def test_a_bad_form_value_shows_the_form_again_with_the_field_marked(served: Served) -> None:
    status, kind, page = served.get("/report", model="deepseek-r1:70b", context="-5")
    assert (status, kind) == (400, "text/html; charset=utf-8")
    assert "context: expected a number from 1 to 10,000,000, got &#x27;-5&#x27;" in page
    assert '<div class="field bad"><label for="f-context">' in page
    assert 'name="context" placeholder="8192" type="text" inputmode="numeric" value="-5">' in page  # shown again as typed


# -- limits and stopping, in process --------------------------------------------------------------------------


def test_a_slow_answer_is_a_503_and_a_stalled_client_is_dropped(monkeypatch) -> None:
    log: list[str] = []
    server = make_server("127.0.0.1", 0, log=log.append)
    monkeypatch.setattr(server_module, "ANSWER_TIMEOUT_S", 0.3)
    monkeypatch.setattr(server_module.Handler, "timeout", 0.5)
    real = server.app.handle
    monkeypatch.setattr(server.app, "handle", lambda m, p, q, b: (time.sleep(1) if p == "/slow" else None) or real(m, p, q, b))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), port), timeout=5) as stalled:
            stalled.sendall(b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
            conn = http.client.HTTPConnection(str(host), port, timeout=10)
            conn.request("GET", "/slow")
            reply = conn.getresponse()
            assert reply.status == 503
            assert json.loads(reply.read())["error"] == "request: no answer within 0.3 s; the server is busy or the question too large"
            answer = stalled.makefile("rb").read().decode()  # dropped after the read timeout, told why
            assert answer.startswith("HTTP/1.0 408 ") and "body: 100 bytes announced, not received within 0.5 s" in answer
        monkeypatch.setattr(server_module, "ANSWER_TIMEOUT_S", 60)  # the next answer waits for the slow one to end
        conn = http.client.HTTPConnection(str(host), port, timeout=10)
        conn.request("GET", "/models")
        assert conn.getresponse().status == 200
    finally:
        server.shutdown()
        server.server_close()
    assert any('"GET /models" 200' in line for line in log)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_a_signal(sig: int) -> None:
    proc, url, reader, log = start("--port", "0")
    port = urllib.parse.urlsplit(url).port
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0
    reader.join(timeout=10)
    assert log == ["Stopped.\n"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port or 0), timeout=2)


def test_a_port_in_use_is_one_line_and_exit_2(served: Served) -> None:
    out = subprocess.run([sys.executable, "-m", "llmhw.cli", "serve", "--port", str(served.port)], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert out.stderr == f"Error: --port: cannot listen on 127.0.0.1:{served.port}: Address already in use\n"


# -- in a real browser -----------------------------------------------------------------------------------------

BROWSER = chromium.find()


def recommended(served: Served, concurrency: str) -> str:
    """The recommended tier's hardware, as the API answers for the demo's model and budget."""
    _, _, body = served.get("/recommend", model="deepseek-r1:70b", concurrency=concurrency, budget="40000")
    rec = json.loads(body)["recommendations"][1]
    return f"{rec['count']} × {rec['hardware_name']}"


@pytest.mark.skipif(BROWSER is None, reason="no Chromium on PATH (`apt-get install chromium`; .ci/run installs it)")
def test_the_form_drives_to_a_report_and_a_what_if_in_chromium(served: Served, tmp_path: Path) -> None:
    assert BROWSER is not None
    with chromium.Chromium(BROWSER) as browser:
        browser.load(served.url)
        browser.evaluate("document.querySelector('#f-model').value = 'deepseek-r1:70b'; "
                         "document.querySelector('#f-concurrency').value = '20'; document.querySelector('#f-budget').value = '40000'; true")
        browser.submit("form.workload", "form.workload button")
        assert browser.evaluate("location.pathname") == "/report"
        assert browser.evaluate("document.querySelectorAll('article.card').length") == 3
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 2
        shown = "document.querySelector('#tier-recommended .hw').textContent"
        assert browser.evaluate(shown) == recommended(served, concurrency="20")
        browser.screenshot(tmp_path / "served-report.png")
        # what-if: one user instead of twenty, the rest as it was
        browser.evaluate("document.querySelector('#f-concurrency').value = '1'; true")
        browser.submit("form.workload", "form.workload button")
        assert "concurrency=1" in browser.evaluate("location.search")
        assert browser.evaluate("document.querySelector('#f-budget').value") == "40000"
        assert browser.evaluate(shown) == recommended(served, concurrency="1")
        assert browser.console_errors() == []
        assert {urllib.parse.urlsplit(u).netloc for u in browser.requested()} == {f"127.0.0.1:{served.port}"}

