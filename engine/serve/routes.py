"""What the server answers: the JSON API (the CLI's JSON, the CLI's one-line errors) and the web pages.

``App.handle(method, path, query, body)`` is the whole application, free of sockets, so it is tested
directly as well as over HTTP. Inputs come as query parameters (GET) or a JSON object (POST); a bad
input is HTTP 400 with ``{"error": "<field>: <what is accepted>", "field": "<field>"}``, the message
the CLI prints after ``Error:``.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

from .. import api, report, trace
from ..consult import why
from ..errors import InputError, LlmhwError
from ..knowledge.build import policy_value
from ..profile import SLOTS
from .form import FORM_CSS, Form, page


@dataclass(frozen=True)
class Reply:
    """An HTTP answer."""

    status: int
    content_type: str
    body: bytes


class HttpError(Exception):
    """A request the server refuses, with its status and the field at fault."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.field = status, field


def json_reply(data: Any, status: int = 200) -> Reply:
    """JSON exactly as the CLI prints it with ``--format json`` (sorted keys, indent 2, a final newline)."""
    return Reply(status, "application/json", (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def html_reply(text: str, status: int = 200) -> Reply:
    return Reply(status, "text/html; charset=utf-8", text.encode())


def error_reply(status: int, field: str, message: str) -> Reply:
    """``{"error": "<field>: <message>", "field": "<field>"}``: the one line the CLI prints after ``Error:``."""
    return json_reply({"error": f"{field}: {message}", "field": field}, status)


class App:
    """The application: the catalog loaded once, the form built once; each request one API call."""

    def __init__(self, knowledge_dirs: Iterable[str] = ()) -> None:
        self.knowledge_dirs = tuple(knowledge_dirs)
        cat = api.catalog(self.knowledge_dirs)  # a broken --knowledge directory fails here, before serving
        defaults = {s.name: str(policy_value(cat.policy, s.default_key)) if s.default_key else s.unset for s in SLOTS}
        lists = {"model": sorted(cat.models), "precision": ["auto", *sorted(cat.precisions)], "hardware": sorted(cat.accelerators)}
        self.form = Form(defaults, {s.name: why(s.name) for s in SLOTS}, lists)
        self.names = {a.id: a.name for a in cat.accelerators.values()}
        self.routes: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any], bytes], Reply]]] = {
            "/": (("GET",), self.index), "/report": (("GET",), self.report),
            "/recommend": (("GET", "POST"), self.recommend), "/check": (("GET", "POST"), self.check),
            "/models": (("GET",), lambda _f, _b: json_reply({"models": api.list_models(self.knowledge_dirs)})),
            "/hardware": (("GET",), lambda _f, _b: json_reply({"hardware": api.list_hardware(self.knowledge_dirs)})),
            "/explain": (("GET", "POST"), self.explain), "/audit": (("POST",), self.audit),
        }

    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply:
        """Answer one request; never raises (an unexpected error is a 500 with its one line, logged in full)."""
        route = self.routes.get(path.rstrip("/") or "/")
        try:
            if route is None:
                raise HttpError(404, "path", f"no such page {path[:80]!r}; expected one of {', '.join(sorted(self.routes))}")
            if method not in route[0]:
                raise HttpError(405, "method", f"{path} accepts {' and '.join(route[0])}, got {method}")
            return route[1](params(query), body)
        except (InputError, HttpError) as exc:
            status = exc.status if isinstance(exc, HttpError) else 400
            if path.rstrip("/") == "/report" and status == 400:
                return html_reply(self._page(params(query), exc.field, str(exc)), 400)
            return json_reply({"error": str(exc), "field": exc.field}, status)
        except LlmhwError as exc:  # the installed knowledge is broken: not the request's fault
            return json_reply({"error": str(exc), "field": "knowledge"}, 500)
        except Exception as exc:  # a bug: answer, log it, keep serving
            traceback.print_exc(file=sys.stderr)
            return error_reply(500, "server", f"internal error ({type(exc).__name__}); the server's log has the details")

    # -- the JSON API ---------------------------------------------------------------------------------------------

    def recommend(self, query: dict[str, Any], body: bytes) -> Reply:
        return json_reply(api.advise(workload(with_body(query, body)), self.knowledge_dirs).to_dict())

    def check(self, query: dict[str, Any], body: bytes) -> Reply:
        given = with_body(query, body)
        hardware, count = configuration(given)
        return json_reply(api.check(workload(given), hardware, count, self.knowledge_dirs).to_dict())

    def explain(self, given: dict[str, Any], body: bytes) -> Reply:
        """POST a trace document (what ``--trace`` writes), or GET a workload: each conclusion's derivation."""
        conclusion = given.pop("conclusion", None)
        if body.strip():
            doc = trace.loads(body.decode("utf-8", "replace"), "body")
        else:
            result = api.check(workload(given), *configuration(given), self.knowledge_dirs) if given.get("hardware") \
                else api.advise(workload(given), self.knowledge_dirs)
            doc = trace.document(result, created="-")
        return json_reply(asdict(trace.explain(doc, conclusion)))

    def audit(self, _query: dict[str, Any], body: bytes) -> Reply:
        """POST a trace document: the same report as `llmhw audit --format json`."""
        return json_reply(trace.audit(trace.loads(body.decode("utf-8", "replace"), "body")).to_dict())

    # -- the web pages --------------------------------------------------------------------------------------------

    def index(self, given: dict[str, Any], _body: bytes) -> Reply:
        intro = ("<header><h1>Which hardware for this model?</h1><p class=\"sub\">Describe the workload; the answer is the report "
                 "<code>llmhw recommend --format html</code> writes, with the same form above it for what-ifs.</p></header>\n")
        return html_reply(page("llmhw", intro + self.form.html(given)))

    def report(self, given: dict[str, Any], _body: bytes) -> Reply:
        if not given.get("model"):
            return html_reply(self._page(given, "model", "model: required; pick one from the list or type a name"), 400)
        form = self.form.html(given)
        if given.get("hardware"):
            hardware, count = configuration(given)
            result = api.check(workload(given), hardware, count, self.knowledge_dirs)
            text = report.check_html(result.to_dict(), self.names[result.hardware], report.explained(result), form, FORM_CSS)
        else:
            advice = api.advise(workload(given), self.knowledge_dirs)
            text = report.advice_html(advice.to_dict(), advice.compared, report.explained(advice), form, FORM_CSS)
        return html_reply(text)

    def _page(self, given: Mapping[str, Any], field: str, message: str) -> str:
        return page("llmhw: " + message, "<header><h1>Which hardware for this model?</h1></header>\n" + self.form.html(given, field, message))


def params(query: str) -> dict[str, Any]:
    """Query parameters; empty ones are left out, so that an empty form field takes the default."""
    return {k: v for k, v in parse_qsl(query, keep_blank_values=True) if v != ""}


def with_body(given: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The query's fields updated with a POSTed JSON object's (null or empty values take the default)."""
    if not body.strip():
        return given
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("body", f"expected a JSON object, got invalid JSON ({str(exc)[:60]})") from None
    if not isinstance(data, dict):
        raise InputError("body", f"expected a JSON object, got {type(data).__name__}")
    return {**given, **{k: v for k, v in data.items() if v is not None and v != ""}}


def workload(given: Mapping[str, Any]) -> dict[str, Any]:
    """The workload fields of a request: all but the configuration of a `check` (a name no slot has is an error, as in a profile)."""
    return {k: v for k, v in given.items() if k not in ("hardware", "count", "conclusion")}


def configuration(given: Mapping[str, Any]) -> tuple[str, int]:
    """The hardware and count of a `check` request."""
    hardware = given.get("hardware")
    if not isinstance(hardware, str) or not hardware.strip():
        raise InputError("hardware", "required: an accelerator name or id (`/hardware` lists them)")
    raw = given.get("count", 1)
    if isinstance(raw, bool) or not str(raw).strip().isdigit():
        raise InputError("count", f"expected a whole number, got {str(raw)[:40]!r}")
    return hardware, int(str(raw).strip())
