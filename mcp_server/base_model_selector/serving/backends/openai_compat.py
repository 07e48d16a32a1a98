"""OpenAI-compatible servers (llama.cpp's llama-server, llama-cpp-python, vLLM, LM Studio, a gateway), over httpx.

When one Ollama machine is not enough people move to a server built for throughput; nearly all of them speak
`POST /v1/chat/completions`, and each differs in what it accepts. The backend therefore learns, once per host,
which server it talks to (`servers.detect`, or `backend.server` in study.yaml) and adapts:

- **Structured output** goes out in the first form the host accepts, tried in this order and remembered per host:
  `response_format: {"type": "json_schema", ...}` (vLLM, llama-server, LM Studio), `{"type": "json_object",
  "schema": ...}` (llama-cpp-python, llama-server), and last no response_format at all (the prompt alone asks for
  the JSON; a warning says so). `ChatResult.structured_output` names the form a reply was made with.
- **Model names** are checked against the host's listing before the first request: llama-server, llama-cpp-python
  and LM Studio answer any name with the model they have loaded, so a typo would otherwise be recorded as the
  model under test.
- **Replies stream** with an idle timeout (`streaming.py`); a cancelled or stalled request closes its connection,
  which is how every one of these servers learns to stop. llama-cpp-python, which serves one request at a time and
  cuts a streamed reply short when another arrives, gets one request at a time.
- **Limits**: `num_predict` becomes `max_tokens`, clamped to what fits the context the host reports (or revealed
  in an earlier refusal); `cache_prompt: false` is sent to llama-server when `backend.cache_prompt` is false;
  thinking on/off is `chat_template_kwargs.enable_thinking`. A field a strict server refuses is dropped for good.
- **Errors by kind**: connection refused → `BackendUnreachable`; an unknown model → `ModelNotFound`; 429, 5xx,
  dropped connections, stalls and garbled bodies → `TransientBackendError` (retried by the engine); a refused
  request — any other 4xx, or a 5xx whose body is a validation error (llama-cpp-python answers a request it cannot
  parse with HTTP 500) — → `RequestRejected` with the server's words and the fix, never retried; a prompt that does
  not fit → `ContextOverflow`, naming the setting that sizes this server's context.

Contract: `OpenAICompatBackend(config)` implements `backends.Backend`. The API key, when needed, is read from the
environment variable named by `backend.api_key_env`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from base_model_selector.serving.backends import refusals, servers
from base_model_selector.serving.backends.base import ChatResult, ModelInfo, ProgressFn, PullResult
from base_model_selector.serving.backends.hosts import HostPool, on_every_host
from base_model_selector.serving.backends.streaming import OpenAIStream, paced, sse_events
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import (
    BackendUnreachable,
    BMSError,
    ConfigError,
    ContextOverflow,
    ModelNotFound,
    RequestRejected,
    TransientBackendError,
)

log = logging.getLogger(__name__)

_OPTION_NAMES = {"num_predict": "max_tokens", "temperature": "temperature", "seed": "seed", "top_p": "top_p"}
SCHEMA_FORMS = ("json_schema", "json_object+schema", "none")
OPTIONAL_FIELDS = ("chat_template_kwargs", "stream_options", "cache_prompt")
"""Fields a strict server may refuse; one it names in a refusal is dropped for that host and the request resent."""
MIN_REPLY_TOKENS = 64


def base_url(host: str) -> str:
    """Accept `http://h:8000`, `http://h:8000/` or `http://h:8000/v1` alike."""
    host = host.rstrip("/")
    return host[: -len("/v1")] if host.endswith("/v1") else host


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """A generous token estimate (3 characters a token, plus the chat template's framing) used only to clamp
    the reply budget; the server's own count, when it refuses, replaces it."""
    return sum(len(str(m.get("content") or "")) // 3 + 8 for m in messages) + 16


@dataclass
class _Host:
    """What the backend learned about one host: its kind and facts, and what it accepts."""

    kind: str
    detected: bool
    extras: dict[str, Any]
    context: int | None
    form: int = 0  # index into SCHEMA_FORMS: the first form this host has not refused
    dropped: set[str] = field(default_factory=set)
    served: dict[str, str] = field(default_factory=dict)  # requested name → the id the host lists
    gate: asyncio.Semaphore | None = None


class OpenAICompatBackend:
    """Implements `Backend` over one or more OpenAI-compatible servers (see the module docstring)."""

    def __init__(self, config: BackendConfig, *, hosts: list[str] | None = None) -> None:
        if not (hosts or config.hosts):
            raise ConfigError(
                "study.yaml: backend.hosts: the openai backend needs the server URL, e.g. "
                "hosts: ['http://127.0.0.1:8000'] (vLLM) or ['http://127.0.0.1:8080'] (llama.cpp server)"
            )
        self.config = config
        self.timeout_s = config.timeout_s
        self.idle_timeout_s = config.idle_timeout_s
        self._headers = {"Content-Type": "application/json"}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env, "").strip()
            if not key:
                raise ConfigError(
                    f"study.yaml: backend.api_key_env: the environment variable {config.api_key_env} is empty; "
                    f"export {config.api_key_env}=<your key> or remove api_key_env"
                )
            self._headers["Authorization"] = f"Bearer {key}"
        self._pool: HostPool[httpx.AsyncClient] = HostPool(
            [base_url(h) for h in (hosts or config.hosts)],
            parallel=config.parallel,
            timeout_s=config.timeout_s,
            connect=lambda host, timeout, limits: httpx.AsyncClient(
                base_url=host, headers=self._headers, timeout=timeout, limits=limits
            ),
            close=lambda client: client.aclose(),
        )
        self.hosts, self.parallel, self.slots = self._pool.hosts, self._pool.parallel, self._pool.slots
        self._known: dict[str, _Host] = {}
        self._probing: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ plumbing
    def _unreachable(self, host: str) -> BackendUnreachable:
        kind = self.config.server
        how = servers.KINDS[kind].start.format(model="<model>") if kind in servers.KINDS else servers.start_hints()
        return BackendUnreachable(
            f"no OpenAI-compatible server is reachable at {host} — start it ({how}) or fix backend.hosts in study.yaml"
        )

    def _error(self, err: BaseException, host: str, model: str | None) -> BMSError:
        if isinstance(err, BMSError):
            return err
        if isinstance(err, httpx.ConnectError):
            return self._unreachable(host)
        if isinstance(err, httpx.TimeoutException):
            return TransientBackendError(
                f"no reply from {host} within {self.timeout_s:g}s for {model}; raise backend.timeout_s in "
                "study.yaml if this keeps happening"
            )
        if isinstance(err, httpx.TransportError):
            return TransientBackendError(f"the connection to {host} dropped during a request for {model} ({err!r})")
        if isinstance(err, ValueError):
            return TransientBackendError(f"{host} sent a reply for {model} that is not valid JSON ({err})")
        return RequestRejected(f"unexpected failure talking to {host} about {model}: {err!r}")

    async def _request(
        self, host: str, method: str, path: str, model: str | None, known: _Host | None = None, **kw: Any
    ) -> Any:
        try:
            response = await self._pool.client(host).request(method, path, **kw)
            data = response.json() if response.content else {}
        except Exception as err:
            raise self._error(err, host, model) from None
        if response.status_code >= 400:
            raise self._status_error(response.status_code, data, host, model, known)
        return data

    async def _peek(self, host: str, path: str) -> Any:
        """`GET path` as parsed JSON, or None for anything else: probing never fails a run."""
        try:
            response = await self._pool.client(host).get(path)
            return response.json() if response.status_code == 200 and response.content else None
        except (httpx.HTTPError, ValueError):
            return None

    async def _listing(self, host: str, model: str | None) -> list[dict[str, Any]]:
        data = await self._request(host, "GET", "/v1/models", model)
        return [m for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]

    async def _host(self, host: str) -> _Host:
        """What this host is, learned on first use (one listing and a few small GETs) and kept for the run."""
        lock = self._probing.setdefault(host, asyncio.Lock())
        async with lock:
            known = self._known.get(host)
            if known is not None:
                return known
            entries = await self._listing(host, None)
            if self.config.server == "auto":
                kind, extras = await servers.detect(lambda path: self._peek(host, path), entries)
            else:
                kind = self.config.server
                extras = await servers.read_extras(kind, lambda path: self._peek(host, path))
            context = next((c for e in entries if (c := servers.runtime_context(kind, e, extras))), None)
            serial = servers.KINDS[kind].serial
            known = _Host(
                kind, self.config.server == "auto", extras, context, gate=asyncio.Semaphore(1) if serial else None
            )
            self._known[host] = known
            self.slots = sum(1 if (k := self._known.get(h)) and k.gate else self.parallel for h in self.hosts)
            return known

    def _not_served(self, model: str, host: str, kind: str, ids: list[str]) -> ModelNotFound:
        k = servers.KINDS[kind]
        return ModelNotFound(
            f"model '{model}' is not served at {host} ({k.label}; it serves: {', '.join(ids) or 'nothing'}) — start "
            f"it with that model ({k.start.format(model=model)}) or set the model to one it serves"
        )

    async def _served_as(self, host: str, known: _Host, model: str) -> tuple[str, dict[str, Any]]:
        entries = await self._listing(host, model)
        listed = servers.served_id(model, [str(e["id"]) for e in entries])
        if listed is None:
            raise self._not_served(model, host, known.kind, [str(e["id"]) for e in entries])
        known.served[model] = listed
        return listed, next(e for e in entries if e["id"] == listed)

    async def aclose(self) -> None:
        await self._pool.aclose()

    # ------------------------------------------------------------------ Backend
    async def list_models(self) -> list[str]:
        async def ids(host: str) -> list[str]:
            return [str(e["id"]) for e in await self._listing(host, None)]

        return on_every_host(await self._pool.each(ids))

    async def show(self, model: str) -> ModelInfo:
        async def one(host: str) -> tuple[_Host, dict[str, Any]]:
            known = await self._host(host)
            return known, (await self._served_as(host, known, model))[1]

        found = await self._pool.each(one)
        known, entry = found[0]
        facts, missing = servers.model_facts(known.kind, entry, known.extras)
        info = servers.server_info(
            known.kind,
            detected=known.detected,
            extras=known.extras,
            context=known.context,
            cache_prompt=self.config.cache_prompt,
        )
        if known.form:
            info.structured_output = SCHEMA_FORMS[known.form]
        warnings = [
            "an OpenAI-compatible server does not report the weights' digest; results are keyed by the model name, "
            "so restarting it with other weights under the same name is not detected"
        ]
        if known.kind == "ollama":
            warnings.append(
                "this is Ollama's OpenAI-compatible endpoint; set backend.kind: ollama to record the model's digest, "
                "parameters, licence and context"
            )
        if servers.lmstudio_entry(known.extras, entry["id"]).get("state") == "not-loaded":
            warnings.append(f"LM Studio has {model} downloaded but not loaded; load it with `lms load {model}`")
        if info.slots and self.parallel > info.slots:
            warnings.append(
                f"backend.parallel is {self.parallel} but the server has {info.slots} slot(s): requests beyond "
                "that wait in its queue (start it with more, e.g. llama-server --parallel, or lower backend.parallel)"
            )
        return ModelInfo(model=model, hosts=self.hosts, server=info, not_reported=missing, warnings=warnings, **facts)

    async def pull(self, model: str, progress: ProgressFn | None = None) -> PullResult:
        await self.show(model)  # raises ModelNotFound with how to serve it
        if progress is not None:
            await progress(1.0, 1.0, f"{model} is served")
        return PullResult(model=model, status="present", hosts=self.hosts)

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        options: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        think: bool | None = None,
    ) -> ChatResult:
        with self._pool.lease() as host:
            known = await self._host(host)
            listed = known.served.get(model) or (await self._served_as(host, known, model))[0]
            body = self._body(known, listed, messages, options, think)
            async with known.gate or contextlib.nullcontext():
                return await self._exchange(host, known, model, body, schema)

    # ------------------------------------------------------------------ requests
    def _body(
        self,
        known: _Host,
        model: str,
        messages: list[dict[str, str]],
        options: dict[str, Any] | None,
        think: bool | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
        for key, value in (options or {}).items():
            if key in _OPTION_NAMES and value is not None:
                body[_OPTION_NAMES[key]] = value
            elif key == "stop" and value:
                body["stop"] = value
        if known.context and isinstance(body.get("max_tokens"), int):
            room = known.context - estimate_tokens(messages)
            if body["max_tokens"] > room:
                body["max_tokens"] = max(room, MIN_REPLY_TOKENS)
        extras: dict[str, Any] = {"stream_options": {"include_usage": True}}
        if think is not None:
            extras["chat_template_kwargs"] = {"enable_thinking": think}
        if servers.KINDS[known.kind].cache_switch and not self.config.cache_prompt:
            extras["cache_prompt"] = False
        body.update({k: v for k, v in extras.items() if k not in known.dropped})
        return body

    async def _exchange(
        self, host: str, known: _Host, model: str, body: dict[str, Any], schema: dict[str, Any] | None
    ) -> ChatResult:
        """Send the request, adapting to what the host refuses: the schema's form, optional fields, the reply
        budget. Bounded: each adaptation removes one possibility for good."""
        clamped = False
        for _ in range(len(SCHEMA_FORMS) + len(OPTIONAL_FIELDS) + 2):
            form = SCHEMA_FORMS[known.form] if schema is not None else None
            body.pop("response_format", None)
            if form == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": schema, "strict": True},
                }
            elif form == "json_object+schema":
                body["response_format"] = {"type": "json_object", "schema": schema}
            try:
                return await self._stream(host, known, model, body, form)
            except ContextOverflow as err:
                fit = (err.context or 0) - (err.prompt_tokens or 0)
                if clamped or fit < MIN_REPLY_TOKENS or fit >= int(body.get("max_tokens") or 0):
                    raise
                body["max_tokens"], clamped = fit, True
            except RequestRejected as err:
                text = str(err)
                if form is not None and form != "none" and re.search(r"response_format|json_schema|json_object", text):
                    if SCHEMA_FORMS[known.form] == form:
                        known.form += 1
                        log.warning(
                            "%s refused response_format %s; sending %s from now on",
                            host,
                            form,
                            SCHEMA_FORMS[known.form],
                        )
                    continue
                refused = next((f for f in OPTIONAL_FIELDS if f in body and f in text), None)
                if refused is None:
                    raise
                known.dropped.add(refused)
                del body[refused]
        raise RequestRejected(f"{host} refused every form of the request for {model}")  # pragma: no cover

    async def _stream(self, host: str, known: _Host, model: str, body: dict[str, Any], form: str | None) -> ChatResult:
        reply = OpenAIStream()
        started = time.perf_counter()
        try:
            async with self._pool.client(host).stream("POST", "/v1/chat/completions", content=json.dumps(body)) as r:
                if r.status_code >= 400:
                    raw = await r.aread()
                    try:
                        data: Any = json.loads(raw) if raw else {}
                    except ValueError:
                        data = raw.decode("utf-8", "replace")
                    raise self._status_error(r.status_code, data, host, model, known)
                what = f"the reply from {host} for {model}"
                events = 0
                async for event in paced(
                    sse_events(r.aiter_lines()), first_s=self.timeout_s, idle_s=self.idle_timeout_s, what=what
                ):
                    if event is None:
                        break
                    events += 1
                    reply.add(event)
                    if reply.error:
                        raise TransientBackendError(f"{host} reported an error in the middle of {what}: {reply.error}")
        except Exception as err:
            raise self._error(err, host, model) from None
        if reply.finish_reason is None and events == 0:
            await self._diagnose(
                host, known, model, body
            )  # an error raised after the server sent 200 ends a stream silently
        if reply.finish_reason is None:
            why = (
                f" — {servers.KINDS[known.kind].label} ends a streamed reply early when another request arrives"
                if known.gate
                else ""
            )
            raise TransientBackendError(f"the reply from {host} for {model} ended before it finished{why}")
        return reply.result(host, model, form, time.perf_counter() - started)

    async def _diagnose(self, host: str, known: _Host, model: str, body: dict[str, Any]) -> None:
        """Ask again without streaming and a one-token budget, so a refusal the stream swallowed (llama-cpp-python
        answers 200 and closes the stream when the prompt does not fit) surfaces with its status and message."""
        probe = {k: v for k, v in body.items() if k not in ("stream_options",)} | {"stream": False, "max_tokens": 1}
        for attempt in (1, 2):  # the connection that carried the silent stream may be closed under us: once more
            try:
                await self._request(host, "POST", "/v1/chat/completions", model, known, content=json.dumps(probe))
                return
            except TransientBackendError:
                if attempt == 2:
                    raise

    # ------------------------------------------------------------------ errors
    def _status_error(self, code: int, data: Any, host: str, model: str | None, known: _Host | None = None) -> BMSError:
        kind = known.kind if known is not None else "openai"
        error = refusals.classify(code, data, host, model, kind)
        if isinstance(error, ModelNotFound) and model is not None:
            return self._not_served(model, host, kind, [])
        if isinstance(error, ContextOverflow) and error.context and known is not None:
            known.context = error.context  # a server that does not say its context just did
        return error
