"""The review page as a starlette app, behind one guard that every request passes first.

The page can rewrite a study's verdicts and notes, so it is reachable only by the person who started it:

- it listens on 127.0.0.1 only (server.py), and every path starts with a random token (`/<token>/…`): a request
  without it is refused, so another local user or a web page guessing ports gets nothing;
- the Host header must name the loopback address and the port, which defeats DNS rebinding (a hostile site whose
  name resolves to 127.0.0.1 sends its own name as Host);
- a write must be a JSON POST carrying the token whose Origin is this page (or, without Origin, whose
  Sec-Fetch-Site is same-origin): a cross-site form or fetch is refused before the body is read;
- every response carries a strict Content-Security-Policy (scripts, styles and images from the page's own
  origin only, no inline script, no remote anything), no referrer (links must not leak the token), no framing.

Model output and scenario text are escaped and stripped of control characters by the templates (text.py); the
policy is the second wall. Route handlers parse, call one function of page.py or actions.py in a worker thread
(the study lock may wait), and render or return JSON.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from base_model_selector.decision.notes import NotesChanged
from base_model_selector.decision.report import pct
from base_model_selector.judging.judges import describe
from base_model_selector.review import actions, charts, text
from base_model_selector.review.page import build_page
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BMSError, StudyLocked

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
MAX_BODY = 1_000_000
SAFE_METHODS = {"GET", "HEAD"}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class UnknownModel(Exception):
    """A model the page was not started for (only the one under review and the selection's others are served)."""


class Guard:
    """ASGI middleware: loopback Host, the token as the first path segment, same-origin JSON for writes."""

    def __init__(self, app: ASGIApp, *, token: str, port: int):
        self.app = app
        self.token = token
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{host}" for host in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets, no lifespan: nothing else is served
        problem = self.refusal(scope)
        if problem is not None:
            status, message = problem
            await PlainTextResponse(message, status_code=status)(scope, receive, _with_headers(send))
            return
        await self.app(scope, receive, _with_headers(send))

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if headers.get("host", "").lower() not in self.hosts:
            return 421, "refused: this page answers only to its loopback address (Host header)"
        segment = scope.get("path", "").lstrip("/").split("/", 1)[0]
        if not secrets.compare_digest(segment.encode(), self.token.encode()):
            return 403, "refused: open the review page with the full URL it printed (it carries a token)"
        if scope.get("method", "GET") not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin not in self.origins:
                return 403, "refused: a change must come from the review page itself (Origin)"
            if origin is None and headers.get("sec-fetch-site") != "same-origin":
                return 403, "refused: a change must come from the review page itself (no Origin)"
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return 415, "refused: changes are sent as application/json"
        return None


def _with_headers(send: Send) -> Send:
    """Every response, refusals included, carries the security headers (replacing any of the same name)."""
    ours = {name for name, _ in SECURITY_HEADERS}

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
            message["headers"] = kept + SECURITY_HEADERS
        await send(message)

    return wrapped


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["inert"] = text.clean
    env.filters["linked"] = text.linked
    env.globals["pct"] = pct
    env.globals["judge_label"] = describe
    return env


def build_app(study: Study, models: list[str], *, reviewer: str, token: str, port: int) -> ASGIApp:
    """The guarded app for one study; `models[0]` is shown first, the others (a backup) on request."""
    env = templates()

    def model_of(value: str | None) -> str:
        if value in (None, ""):
            return models[0]
        if value not in models:
            raise UnknownModel(f"model {value!r} is not one this page reviews ({', '.join(models)})")
        return value

    async def page(request: Request) -> Response:
        try:
            model = model_of(request.query_params.get("model"))
            data = await run_in_threadpool(build_page, study, model, reviewer)
        except UnknownModel as err:
            return PlainTextResponse(str(err), status_code=404)
        except BMSError as err:  # e.g. a rubric.yaml with a mistake: say which, the person fixes it and reloads
            return PlainTextResponse(f"{err}\n\nFix it, then reload this page.", status_code=409)
        html = env.get_template("page.html.j2").render(page=data, charts=charts, models=models)
        return HTMLResponse(html)

    async def save_notes(request: Request) -> Response:
        return await _json_call(request, actions.NotesChange, lambda body: _notes_result(study, body))

    async def render(request: Request) -> Response:
        def run(body: actions.RenderRequest) -> dict[str, Any]:
            return actions.rerender(study, model_of(body.model)).model_dump(mode="json")

        return await _json_call(request, actions.RenderRequest, run)

    async def overrule(request: Request) -> Response:
        def run(body: actions.Overrule) -> dict[str, Any]:
            body.model = model_of(body.model)
            return actions.overrule(study, reviewer, body).model_dump(mode="json")

        return await _json_call(request, actions.Overrule, run)

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/api/notes", save_notes, methods=["POST"]),
        Route("/api/render", render, methods=["POST"]),
        Route("/api/overrule", overrule, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=[Mount(f"/{token}", routes=routes)])
    return Guard(app, token=token, port=port)


def _notes_result(study: Study, change: actions.NotesChange) -> dict[str, Any]:
    notes = actions.save_notes(study, change)
    return {"qualitative": notes.qualitative, "next_steps": notes.next_steps, "patterns": notes.patterns}


async def _json_call(request: Request, schema: type[BaseModel], call: Callable[[Any], dict[str, Any]]) -> Response:
    """Validate a JSON body against `schema`, run `call` in a worker thread, and answer JSON (errors included)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"error": f"request body over {MAX_BODY:,} bytes"}, status_code=413)
    try:
        body = schema.model_validate(json.loads(raw or b"{}"))
    except (ValueError, ValidationError) as err:
        first = err.errors()[0] if isinstance(err, ValidationError) else None
        where = ".".join(str(p) for p in first["loc"]) if first else "body"
        why = first["msg"] if first else str(err)
        return JSONResponse({"error": f"{where}: {why}"}, status_code=400)
    try:
        return JSONResponse(await run_in_threadpool(call, body))
    except UnknownModel as err:
        return JSONResponse({"error": str(err)}, status_code=404)
    except (StudyLocked, NotesChanged) as err:
        return JSONResponse({"error": str(err)}, status_code=409)  # someone else is writing: retry, or reload
    except BMSError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
