"""`FakeOpenAI`: an in-process server for the OpenAI-compatible API that vLLM, llama.cpp and LM Studio serve.

Besides Ollama, the tool can evaluate models behind any OpenAI-compatible endpoint, and those servers differ in
what they accept and refuse. `FakeOpenAI(kind=...)` answers like one of them (`server_kinds.py` lists what each
does): `GET /v1/models` in the kind's shape, the kind's own documents (`/props`, `/api/v0/models`,
`/openapi.json`, `/version`), and `POST /v1/chat/completions` (whole or as `text/event-stream` chunks ending in
``data: [DONE]``) honouring or refusing each `response_format`, `max_tokens`, the context limit and
`cache_prompt` as that kind does. It shares `FakeOllama`'s controls (parallel slots, delay, scripted replies,
faults, `token_delay`, `disconnects`), so the same failure scenarios can be replayed against either backend.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .http import Exchange, FakeServerBase
from .replies import (
    ModelSpec,
    Reply,
    ReplyLike,
    Responder,
    ServerBusy,
    as_reply,
    count_tokens,
    echo_text,
    message_text,
    stream_pieces,
    truncate_tokens,
    truncated_json,
)
from .schema import schema_instance
from .server_kinds import BEHAVIOUR, OPENAI_FIELDS, error_body, format_refusal, overflow

JSON = "application/json"


def openai_error(message: str, type_: str, code: Any = None, param: str | None = None) -> dict[str, Any]:
    """The error body shape of the OpenAI API."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _tokens(messages: Any) -> list[str]:
    """The prompt as the fake's tokens (words), in order: what a prompt cache compares."""
    words: list[str] = []
    for m in messages if isinstance(messages, list) else []:
        if isinstance(m, dict):
            words += message_text(m.get("content")).split()
    return words


class FakeOpenAI(FakeServerBase):
    """A fake OpenAI-compatible server. Use as a context manager or call `start()` / `stop()`.

    Args:
        models: served model ids, or id -> ModelSpec (its `context_length` is the model's native context);
            None gives ``("qwen3-8b",)``.
        kind: which server to behave like: vllm (default), llama.cpp, llama-cpp-python, lmstudio, openai.
        context: tokens one request may use (prompt and reply); None: the model's context_length.
        owned_by: `owned_by` in `/v1/models`; None: the kind's own.
        api_key: when set, requests need ``Authorization: Bearer <api_key>`` or get 401.
        cache_changes_replies: llama.cpp: a reply whose prompt was partly reused from the cache comes out
            different (as llama.cpp warns it may), to exercise the reproducibility check.
        flat_errors: vLLM before its nested error body: `{"object": "error", "message": ..., "code": 400}`.
        parallel, delay, max_queue, slot_timeout, responder: as for `FakeOllama`.
    """

    def __init__(
        self,
        models: Iterable[str] | Mapping[str, ModelSpec] | None = None,
        *,
        kind: str = "vllm",
        context: int | None = None,
        owned_by: str | None = None,
        api_key: str | None = None,
        cache_changes_replies: bool = False,
        flat_errors: bool = False,
        parallel: int = 1,
        delay: float = 0.0,
        max_queue: int = 512,
        slot_timeout: float = 30.0,
        responder: Responder | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(
            parallel=parallel,
            delay=delay,
            max_queue=max_queue,
            slot_timeout=slot_timeout,
            responder=responder,
            port=port,
        )
        if models is None:
            models = ("qwen3-8b",)
        if isinstance(models, Mapping):
            self._models: dict[str, ModelSpec] = dict(models)
        else:
            self._models = {name: ModelSpec(context_length=32768) for name in models}
        self._model_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.kind = kind
        self.behaviour = BEHAVIOUR[kind]
        self.context = context
        self.owned_by = owned_by or self.behaviour.owned_by
        self.api_key = api_key
        self.cache_changes_replies = cache_changes_replies
        self.flat_errors = flat_errors
        self._cached: list[str] = []  # the prompt (as tokens) the cache holds, for llama.cpp's cache_n

    @property
    def models(self) -> dict[str, ModelSpec]:
        with self._model_lock:
            return dict(self._models)

    def add_model(self, name: str, spec: ModelSpec | None = None) -> None:
        with self._model_lock:
            self._models[name] = spec or ModelSpec(context_length=32768)

    def remove_model(self, name: str) -> None:
        with self._model_lock:
            self._models.pop(name, None)

    def _context(self, spec: ModelSpec) -> int:
        return self.context or spec.context_length

    # routing ---------------------------------------------------------------------------------

    def _handle(self, ex: Exchange) -> None:
        route = (ex.method, ex.path)
        if route == ("GET", "/health"):
            ex.send_json(200, {"status": "ok"})
            return
        if self.api_key is not None and ex.headers.get("Authorization") != f"Bearer {self.api_key}":
            ex.send_json(401, openai_error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
            return
        if route == ("GET", "/v1/models"):
            ex.send_json(200, {"object": "list", "data": [self._listed(n, s) for n, s in self.models.items()]})
        elif route == ("POST", "/v1/chat/completions"):
            self._chat(ex)
        elif ex.method == "GET" and (document := self._document(ex.path)) is not None:
            ex.send_json(200, document)
        elif self.kind == "lmstudio":  # LM Studio answers unknown endpoints with 200 anyway
            ex.send_json(
                200, {"error": f"Unexpected endpoint or method. ({ex.method} {ex.path}). Returning 200 anyway"}
            )
        elif self.kind == "llama-cpp-python":
            ex.send_json(404, {"detail": "Not Found"})
        else:
            ex.send_json(404, openai_error(f"Not found: {ex.method} {ex.path}", "invalid_request_error", "not_found"))

    def _listed(self, name: str, spec: ModelSpec) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": self.owned_by}
        if self.kind == "vllm":
            entry |= {"root": name, "parent": None, "max_model_len": self._context(spec), "permission": []}
        elif self.kind == "llama.cpp":
            entry["meta"] = {
                "vocab_type": 2,
                "n_vocab": 128256,
                "n_ctx_train": spec.context_length,
                "n_embd": 4096,
                "n_params": spec.parameter_count,
                "size": spec.resolved_size(),
            }
        elif self.kind == "llama-cpp-python":
            entry = {"id": name, "object": "model", "owned_by": self.owned_by, "permissions": []}
        return entry

    def _document(self, path: str) -> dict[str, Any] | None:
        """The kind's own documents beyond the OpenAI API, or None (the path is unknown to this kind)."""
        models = self.models
        first = next(iter(models.items()), None)
        if self.kind == "vllm" and path == "/version":
            return {"version": "0.9.2"}
        if self.kind == "llama.cpp" and path == "/props" and first is not None:
            settings = {"id": 0, "n_ctx": self._context(first[1]), "params": {"n_predict": -1, "seed": 4294967295}}
            return {
                "default_generation_settings": settings,
                "total_slots": self.parallel,
                "model_path": f"/models/{first[0]}.gguf",
                "build_info": "b6123-abc1234",
                "modalities": {"vision": False},
            }
        if self.kind == "lmstudio" and path == "/api/v0/models":
            data = [
                {
                    "id": name,
                    "object": "model",
                    "type": "llm",
                    "publisher": "lmstudio-community",
                    "arch": spec.architecture,
                    "compatibility_type": "gguf",
                    "quantization": spec.quantization,
                    "state": "loaded",
                    "max_context_length": spec.context_length,
                    "loaded_context_length": self._context(spec),
                }
                for name, spec in models.items()
            ]
            return {"object": "list", "data": data}
        if self.kind == "llama-cpp-python" and path == "/openapi.json":
            return {"openapi": "3.1.0", "info": {"title": "🦙 llama.cpp Python API", "version": "0.3.36"}, "paths": {}}
        return None

    # chat --------------------------------------------------------------------------------------

    def _refuse(self, ex: Exchange, status: int, message: str, type_: str, code: Any = None) -> None:
        ex.send_json(status, error_body(self.kind, status, message, type_, code, flat=self.flat_errors))

    def _chat(self, ex: Exchange) -> None:
        body = ex.body
        if ex.body_error or not isinstance(body, dict):
            self._refuse(ex, 400, ex.body_error or "missing request body", "invalid_request_error")
            return
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            self._refuse(ex, 400, "you must provide a model parameter", "invalid_request_error")
            return
        if not isinstance(messages, list) or not messages:
            self._refuse(ex, 400, "messages: at least one message is required", "invalid_request_error")
            return
        behaviour = self.behaviour
        if behaviour.strict_fields and (unknown := sorted(set(body) - OPENAI_FIELDS)):
            self._refuse(ex, 400, f"Unrecognized request argument supplied: {unknown[0]}", "invalid_request_error")
            return
        models = self.models
        spec = models.get(model)
        if spec is None and behaviour.any_model and (self.kind != "lmstudio" or len(models) == 1) and models:
            spec = next(iter(models.values()))  # answers any name with the loaded model
        if spec is None:
            message = f"The model `{model}` does not exist."
            if self.kind == "lmstudio":
                message = f'Invalid model identifier "{model}". Please specify a valid downloaded model.'
            self._refuse(
                ex, 404 if self.kind != "lmstudio" else 400, message, "invalid_request_error", "model_not_found"
            )
            return
        response_format = body.get("response_format") or {}
        wanted = response_format.get("type") if isinstance(response_format, dict) else None
        if wanted is not None and wanted not in behaviour.formats:
            status, refusal = format_refusal(self.kind, str(wanted))
            ex.send_json(status, refusal)
            return
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        tokens = _tokens(messages)
        context = self._context(spec)
        needed = len(tokens) + (max_tokens or 0 if behaviour.overflow_counts_reply else 0)
        stream = bool(body.get("stream", False))
        if needed > context:
            if stream and behaviour.silent_stream_errors:
                ex.start_stream("text/event-stream; charset=utf-8")
                ex.end_stream()
                return
            status, refusal = overflow(self.kind, len(tokens), context, max_tokens, flat=self.flat_errors)
            ex.send_json(status, refusal)
            return
        fault = self._begin_inference()
        if fault == "503":
            self._refuse(ex, 503, "The server is overloaded, please try again later.", "server_error", 503)
            return
        if fault == "http500":
            self._refuse(ex, 500, "Internal server error", "server_error", 500)
            return
        if fault == "validation500":
            message = (
                "1 validation error:\n  {'type': 'int_parsing', 'loc': ('body', 'max_tokens'), "
                "'msg': 'Input should be a valid integer'}"
            )
            self._refuse(ex, 500, message, "internal_server_error")
            return
        if fault == "http400":
            self._refuse(ex, 400, "'logit_bias' is not valid here", "invalid_request_error")
            return
        try:
            with self._slots.hold():
                self._work()
                if fault == "drop" and not stream:
                    ex.drop()
                    return
                self._answer(ex, body, model, stream, fault, tokens, max_tokens)
        except ServerBusy:
            self._refuse(ex, 503, "The server is overloaded, please try again later.", "server_error", 503)

    def _default_reply(self, body: dict) -> ReplyLike:
        text = echo_text(body.get("messages"))
        response_format = body.get("response_format") or {}
        schema: Any = body.get("guided_json")
        if response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema", response_format.get("schema", {}))
        elif response_format.get("type") == "json_object" and self.behaviour.json_object_schema:
            schema = response_format.get("schema")
        if isinstance(schema, str):
            schema = json.loads(schema)
        if isinstance(schema, dict):
            return json.dumps(schema_instance(schema))
        if response_format.get("type") == "json_object":
            return json.dumps({"echo": text})
        return text

    def _cache(self, body: dict, tokens: list[str]) -> int:
        """llama.cpp's prompt cache: how many leading prompt tokens the last request left behind (0 when the
        request says cache_prompt: false, which also leaves the cache as it was)."""
        if not self.behaviour.timings or body.get("cache_prompt") is False:
            return 0
        with self._lock:
            reused = next((i for i, (a, b) in enumerate(zip(self._cached, tokens, strict=False)) if a != b), None)
            if reused is None:
                reused = min(len(self._cached), len(tokens))
            self._cached = list(tokens)
        return min(reused, max(0, len(tokens) - 1))  # at least the last token is always evaluated

    def _answer(
        self,
        ex: Exchange,
        body: dict,
        model: str,
        stream: bool,
        fault: str | None,
        tokens: list[str],
        max_tokens: int | None,
    ) -> None:
        reply: Reply
        if fault is None:
            reply = self._reply_for(body, lambda: self._default_reply(body))
        else:  # faulted requests do not consume scripted replies: the retry should get them
            reply = as_reply(self._default_reply(body))
        content = reply.content
        if fault == "invalid_json":
            content = truncated_json(content if content.lstrip()[:1] in ("{", "[") else json.dumps({"answer": content}))
        cached = self._cache(body, tokens)
        if cached and self.cache_changes_replies and not body.get("response_format"):
            content += " (from a cached prompt)"
        content, cut = truncate_tokens(content, max_tokens)
        tool_calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments") or {})},
            }
            for i, call in enumerate(reply.tool_calls or ())
        ]
        finish = "length" if cut else ("tool_calls" if tool_calls else "stop")
        n_prompt = len(tokens)
        n_completion = count_tokens(content) + count_tokens(reply.thinking or "")
        usage: dict[str, Any] = {
            "prompt_tokens": n_prompt,
            "completion_tokens": n_completion,
            "total_tokens": n_prompt + n_completion,
        }
        head: dict[str, Any] = {"id": f"chatcmpl-{next(self._ids):08d}", "created": int(time.time()), "model": model}
        timings: dict[str, Any] = {}
        if self.behaviour.timings:
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
            timings = {
                "cache_n": cached,
                "prompt_n": n_prompt - cached,
                "prompt_ms": 2.0 * (n_prompt - cached),
                "predicted_n": n_completion,
                "predicted_ms": 20.0 * max(1, n_completion),
                "predicted_per_second": 50.0,
            }

        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": content if content or not tool_calls else None}
            if reply.thinking is not None:
                message["reasoning_content"] = reply.thinking
            if tool_calls:
                message["tool_calls"] = tool_calls
            whole = {
                **head,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
            }
            if timings:
                whole["timings"] = timings
            data = json.dumps(whole)
            if fault == "invalid_body":
                data = data[: len(data) // 2]
            ex.send_bytes(200, data.encode(), JSON)
            return

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**head, "object": "chat.completion.chunk", "choices": [choice]}

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"reasoning_content": piece}) for piece in stream_pieces(reply.thinking or "")]
        chunks += [chunk({"content": piece}) for piece in stream_pieces(content)]
        if tool_calls:
            chunks.append(chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(tool_calls)]}))
        last = chunk({}, finish)
        if timings:
            last["timings"] = timings
        chunks.append(last)
        if self.behaviour.stream_usage and (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})

        ex.start_stream("text/event-stream; charset=utf-8")
        if fault == "drop":
            for item in chunks[: max(1, len(chunks) // 2)]:
                ex.write_chunk(b"data: " + json.dumps(item).encode() + b"\n\n")
            ex.drop()
            return
        if fault == "invalid_body":
            ex.write_chunk(b'data: {"id": "' + head["id"].encode() + b'", "choices": [{"delta": {"cont\n\n')
            ex.write_chunk(b"data: [DONE]\n\n")
            ex.end_stream()
            return
        pieces = [b"data: " + json.dumps(item).encode() + b"\n\n" for item in chunks]
        # llama-cpp-python's interrupt_requests: a request waiting for the model ends this stream with [DONE]
        interrupted = (lambda: self._slots.waiting > 0) if self.behaviour.interrupts else None
        if self._stream(ex, pieces, fault, ping=b": ping\n\n", cut_when=interrupted) and fault != "stall":
            ex.write_chunk(b"data: [DONE]\n\n")
            ex.end_stream()
