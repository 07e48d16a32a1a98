"""`FakeOllama`: an in-process HTTP server speaking enough of Ollama's REST API for the real client.

The tool lists, shows, pulls and chats with models through the `ollama` Python package. Pointing
that package at this fake (``ollama.Client(host=fake.url)``) exercises the real request and
response parsing, including how the client turns ``{"error": ...}`` bodies and stream lines into
`ollama.ResponseError`, without a GPU, network access or gigabytes of weights. The fake can be
scripted (replies, faults, slow or interrupted pulls, limited parallel slots) to reproduce what
a real Ollama does under load or when things go wrong.

Field names, status codes and error wording follow Ollama's docs/api.md and ollama-python's
`_client.py` / `_types.py` (durations in nanoseconds, NDJSON streams, ``name:tag`` model names).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
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
    first_words,
    last_user_text,
    now_rfc3339,
    prompt_tokens,
    stream_pieces,
    truncate_tokens,
    truncated_json,
)
from .schema import schema_instance

BUSY_ERROR = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_ERROR = "llama runner process has terminated: exit status 2"
PULL_MANIFEST_ERROR = "pull model manifest: file does not exist"
PRESET_MODIFIED_AT = "2025-06-01T12:00:00.000000Z"

DEFAULT_MODELS: dict[str, ModelSpec] = {
    "llama3.1:8b": ModelSpec(
        family="llama",
        parameter_size="8.0B",
        quantization="Q4_K_M",
        context_length=131072,
        license="LLAMA 3.1 COMMUNITY LICENSE AGREEMENT",
        capabilities=("completion", "tools"),
    ),
    "qwen3:4b": ModelSpec(
        family="qwen3",
        parameter_size="4.0B",
        quantization="Q4_K_M",
        context_length=40960,
        license="Apache License Version 2.0",
        capabilities=("completion", "tools", "thinking"),
    ),
}
"""Models present when `FakeOllama(models=None)`."""

DEFAULT_PULLABLE: dict[str, ModelSpec] = {
    "gemma3:270m": ModelSpec(
        family="gemma3",
        parameter_size="268.10M",
        quantization="Q8_0",
        context_length=32768,
        license="Gemma Terms of Use",
        capabilities=("completion",),
    ),
}
"""Extra models the fake registry serves when `FakeOllama(pullable=None)` (present ones are pullable too)."""


def normalize_name(name: str) -> str:
    """Ollama's default tag: ``llama3`` and ``llama3:latest`` name the same model."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _details(spec: ModelSpec) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": spec.family,
        "families": [spec.family],
        "parameter_size": spec.parameter_size,
        "quantization_level": spec.quantization,
    }


def _layers(name: str, spec: ModelSpec) -> list[tuple[str, int]]:
    """(sha256 hex, size) of the blobs a pull downloads: weights, template, license, params."""
    sizes = [spec.resolved_size(), len(spec.template) + 1, len(spec.license) + 1, len(spec.parameters) + 1]
    return [(hashlib.sha256(f"{name}#layer{i}".encode()).hexdigest(), size) for i, size in enumerate(sizes)]


class FakeOllama(FakeServerBase):
    """A fake Ollama server. Use as a context manager or call `start()` / `stop()`.

    Args:
        models: models present (name -> ModelSpec); None gives `DEFAULT_MODELS`. Names without
            a tag get ``:latest``.
        pullable: models the fake registry serves beyond the present ones; None gives `DEFAULT_PULLABLE`.
        parallel: chat/generate requests processed at once (OLLAMA_NUM_PARALLEL); others queue.
        delay: seconds of simulated work per chat/generate request, while holding a slot.
        max_queue: more waiting requests than this get HTTP 503 (OLLAMA_MAX_QUEUE).
        slot_timeout: a queued request waits at most this long for a slot, then gets 503.
        responder: ``f(request_json) -> str | dict | Reply | None`` scripting replies; None falls back
            to the default ("Echo: <first 20 words of the last user message>" or a schema instance).
        pull_steps: progress lines per weights layer during a pull.
        pull_delay: seconds between pull progress lines.
        version: what ``GET /api/version`` reports.
    """

    def __init__(
        self,
        models: Mapping[str, ModelSpec] | None = None,
        *,
        pullable: Mapping[str, ModelSpec] | None = None,
        parallel: int = 1,
        delay: float = 0.0,
        max_queue: int = 512,
        slot_timeout: float = 30.0,
        responder: Responder | None = None,
        pull_steps: int = 4,
        pull_delay: float = 0.0,
        version: str = "0.12.0",
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
        present = DEFAULT_MODELS if models is None else models
        extra = DEFAULT_PULLABLE if pullable is None else pullable
        self._models: dict[str, ModelSpec] = {normalize_name(k): v for k, v in present.items()}
        self._pullable: dict[str, ModelSpec] = {
            **self._models,
            **{normalize_name(k): v for k, v in extra.items()},
        }
        self._modified: dict[str, str] = dict.fromkeys(self._models, PRESET_MODIFIED_AT)
        self._loaded: dict[str, float] = {}
        self._downloaded: dict[str, dict[str, int]] = {}
        self._pull_interrupts: deque[int] = deque()
        self._model_lock = threading.Lock()
        self.pull_steps = max(1, pull_steps)
        self.pull_delay = pull_delay
        self.version = version

    # public controls ------------------------------------------------------------------------

    @property
    def models(self) -> dict[str, ModelSpec]:
        """Models currently present (normalised name -> spec)."""
        with self._model_lock:
            return dict(self._models)

    def has_model(self, name: str) -> bool:
        with self._model_lock:
            return normalize_name(name) in self._models

    def add_model(self, name: str, spec: ModelSpec | None = None) -> None:
        """Make a model present (and pullable), as if it had been pulled."""
        key = normalize_name(name)
        with self._model_lock:
            spec = spec or self._pullable.get(key) or ModelSpec()
            self._models[key] = spec
            self._pullable.setdefault(key, spec)
            self._modified[key] = now_rfc3339()

    def remove_model(self, name: str) -> None:
        key = normalize_name(name)
        with self._model_lock:
            self._models.pop(key, None)
            self._loaded.pop(key, None)
            self._downloaded.pop(key, None)

    def add_pullable(self, name: str, spec: ModelSpec | None = None) -> None:
        with self._model_lock:
            self._pullable[normalize_name(name)] = spec or ModelSpec()

    def interrupt_next_pull(self, after_lines: int, times: int = 1) -> None:
        """Drop the connection of the next `times` pulls after `after_lines` progress lines.

        The bytes "downloaded" so far are kept: the next pull of the same model resumes, its
        first progress line for that layer reporting ``completed`` where the cut one stopped.
        """
        with self._model_lock:
            self._pull_interrupts.extend([after_lines] * times)

    # routing ---------------------------------------------------------------------------------

    def _handle(self, ex: Exchange) -> None:
        route = (ex.method, ex.path)
        if route in (("GET", "/"), ("HEAD", "/")):
            ex.send_text(200, "Ollama is running")
        elif route == ("GET", "/api/version"):
            ex.send_json(200, {"version": self.version})
        elif route == ("GET", "/api/tags"):
            self._tags(ex)
        elif route == ("GET", "/api/ps"):
            self._ps(ex)
        elif route == ("POST", "/api/show"):
            self._show(ex)
        elif route == ("POST", "/api/pull"):
            self._pull(ex)
        elif route == ("DELETE", "/api/delete"):
            self._delete(ex)
        elif route == ("POST", "/api/chat"):
            self._inference(ex, "chat")
        elif route == ("POST", "/api/generate"):
            self._inference(ex, "generate")
        else:
            ex.send_text(404, "404 page not found")

    def _model_arg(self, ex: Exchange) -> str | None:
        """The request's model name, or None after answering 400."""
        body = ex.body
        if ex.body_error or not isinstance(body, dict):
            ex.send_json(400, {"error": ex.body_error or "missing request body"})
            return None
        model = body.get("model") or body.get("name")
        if not model or not isinstance(model, str):
            ex.send_json(400, {"error": "model is required"})
            return None
        return model

    # model management ---------------------------------------------------------------------

    def _tags(self, ex: Exchange) -> None:
        with self._model_lock:
            items = [(name, spec, self._modified.get(name, PRESET_MODIFIED_AT)) for name, spec in self._models.items()]
        ex.send_json(
            200,
            {
                "models": [
                    {
                        "name": name,
                        "model": name,
                        "modified_at": modified,
                        "size": spec.resolved_size(),
                        "digest": spec.resolved_digest(name),
                        "details": _details(spec),
                    }
                    for name, spec, modified in items
                ]
            },
        )

    def _ps(self, ex: Exchange) -> None:
        with self._model_lock:
            loaded = [(n, self._models[n]) for n in self._loaded if n in self._models]
        ex.send_json(
            200,
            {
                "models": [
                    {
                        "name": name,
                        "model": name,
                        "size": spec.resolved_size(),
                        "digest": spec.resolved_digest(name),
                        "details": _details(spec),
                        "expires_at": "2099-01-01T00:00:00Z",
                        "size_vram": spec.resolved_size(),
                        "context_length": min(spec.context_length, 4096),
                    }
                    for name, spec in loaded
                ]
            },
        )

    def _show(self, ex: Exchange) -> None:
        model = self._model_arg(ex)
        if model is None:
            return
        key = normalize_name(model)
        with self._model_lock:
            spec = self._models.get(key)
            modified = self._modified.get(key, PRESET_MODIFIED_AT)
        if spec is None:
            ex.send_json(404, {"error": f"model '{model}' not found"})
            return
        arch = spec.architecture
        digest = spec.resolved_digest(key)
        parameter_lines = "".join(f"PARAMETER {line}\n" for line in spec.parameters.splitlines() if line.strip())
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {key}\n\n"
            f"FROM /root/.ollama/models/blobs/sha256-{digest}\n"
            f'TEMPLATE """{spec.template}"""\n'
            f"{parameter_lines}"
            f'LICENSE """{spec.license}"""\n'
        )
        model_info: dict[str, Any] = {
            "general.architecture": arch,
            "general.basename": key.split(":")[0],
            "general.file_type": 15,
            "general.parameter_count": spec.parameter_count,
            "general.quantization_version": 2,
            f"{arch}.context_length": spec.context_length,
            f"{arch}.embedding_length": 4096,
            f"{arch}.block_count": 32,
            **spec.model_info,
        }
        ex.send_json(
            200,
            {
                "license": spec.license,
                "modelfile": modelfile,
                "parameters": spec.parameters,
                "template": spec.template,
                "details": _details(spec),
                "model_info": model_info,
                "tensors": [],
                "capabilities": list(spec.capabilities),
                "modified_at": modified,
            },
        )

    def _delete(self, ex: Exchange) -> None:
        model = self._model_arg(ex)
        if model is None:
            return
        if not self.has_model(model):
            ex.send_json(404, {"error": f"model '{model}' not found"})
            return
        self.remove_model(model)
        ex.send_bytes(200, b"", "application/json; charset=utf-8")

    def _pull(self, ex: Exchange) -> None:
        model = self._model_arg(ex)
        if model is None:
            return
        stream = ex.body.get("stream", True) is not False
        key = normalize_name(model)
        with self._model_lock:
            spec = self._pullable.get(key)
            interrupt_after = self._pull_interrupts.popleft() if self._pull_interrupts else None
            present = key in self._models
        if spec is None:
            if stream:
                ex.start_stream("application/x-ndjson")
                ex.write_chunk(b'{"status":"pulling manifest"}\n')
                ex.write_chunk(json.dumps({"error": PULL_MANIFEST_ERROR}).encode() + b"\n")
                ex.end_stream()
            else:
                ex.send_json(500, {"error": PULL_MANIFEST_ERROR})
            return

        if stream:
            ex.start_stream("application/x-ndjson")

        def emit(line: dict[str, Any]) -> None:
            if stream:
                ex.write_chunk(json.dumps(line).encode() + b"\n")

        emit({"status": "pulling manifest"})
        sent = 0
        for digest, total in _layers(key, spec):
            with self._model_lock:
                done = self._downloaded.setdefault(key, {})
                start = total if present else min(done.get(digest, 0), total)
            steps = self.pull_steps if total > 4096 else 1
            points = (
                [start]
                if start >= total
                else [start] + [start + (total - start) * i // steps for i in range(1, steps + 1)]
            )
            for completed in points:
                self._pause(self.pull_delay)
                emit(
                    {
                        "status": f"pulling {digest[:12]}",
                        "digest": f"sha256:{digest}",
                        "total": total,
                        "completed": completed,
                    }
                )
                with self._model_lock:
                    self._downloaded.setdefault(key, {})[digest] = completed
                sent += 1
                if interrupt_after is not None and sent >= interrupt_after:
                    ex.drop()
                    return
        for status in ("verifying sha256 digest", "writing manifest"):
            emit({"status": status})
        with self._model_lock:
            self._models[key] = spec
            self._modified[key] = now_rfc3339()
            self._downloaded.pop(key, None)
        if stream:
            emit({"status": "success"})
            ex.end_stream()
        else:
            ex.send_json(200, {"status": "success"})

    # inference -----------------------------------------------------------------------------

    def _inference(self, ex: Exchange, kind: str) -> None:
        model = self._model_arg(ex)
        if model is None:
            return
        body: dict[str, Any] = ex.body
        key = normalize_name(model)
        with self._model_lock:
            spec = self._models.get(key)
        if spec is None:
            ex.send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        prompt_empty = not body.get("messages") if kind == "chat" else not body.get("prompt")
        if prompt_empty:
            self._load_or_unload(ex, body, model, key, kind)
            return
        if body.get("think") and "thinking" not in spec.capabilities:
            ex.send_json(400, {"error": f'"{model}" does not support thinking'})
            return
        if body.get("tools") and "tools" not in spec.capabilities:
            ex.send_json(400, {"error": f"registry.ollama.ai/library/{model} does not support tools"})
            return
        stream = body.get("stream", True) is not False
        fault = self._begin_inference()
        if fault == "503":
            ex.send_json(503, {"error": BUSY_ERROR})
            return
        if fault == "http500":
            ex.send_json(500, {"error": RUNNER_ERROR})
            return
        started = time.monotonic()
        try:
            with self._slots.hold():
                first_load = self._mark_loaded(key)
                self._work()
                if fault == "drop" and not stream:
                    ex.drop()
                    return
                self._answer(ex, body, model, kind, stream, fault, started, first_load)
        except ServerBusy:
            ex.send_json(503, {"error": BUSY_ERROR})

    def _mark_loaded(self, key: str) -> bool:
        with self._model_lock:
            first = key not in self._loaded
            self._loaded[key] = time.time()
        return first

    def _load_or_unload(self, ex: Exchange, body: dict, model: str, key: str, kind: str) -> None:
        """An empty prompt only loads (or, with ``keep_alive: 0``, unloads) the model."""
        unload = body.get("keep_alive") in (0, "0", "0s")
        with self._model_lock:
            if unload:
                self._loaded.pop(key, None)
            else:
                self._loaded[key] = time.time()
        out: dict[str, Any] = {"model": model, "created_at": now_rfc3339()}
        if kind == "chat":
            out["message"] = {"role": "assistant", "content": ""}
        else:
            out["response"] = ""
        out.update(done=True, done_reason="unload" if unload else "load")
        ex.send_json(200, out)

    def _default_reply(self, body: dict, kind: str) -> ReplyLike:
        fmt = body.get("format")
        text = echo_text(body.get("messages")) if kind == "chat" else f"Echo: {first_words(str(body.get('prompt')))}"
        if isinstance(fmt, dict):
            return json.dumps(schema_instance(fmt))
        if fmt == "json":
            return json.dumps({"echo": text})
        return text

    def _answer(
        self,
        ex: Exchange,
        body: dict,
        model: str,
        kind: str,
        stream: bool,
        fault: str | None,
        started: float,
        first_load: bool,
    ) -> None:
        reply: Reply
        if fault is None:
            reply = self._reply_for(body, lambda: self._default_reply(body, kind))
        else:  # faulted requests do not consume scripted replies: the retry should get them
            reply = as_reply(self._default_reply(body, kind))
        content = reply.content
        if fault == "invalid_json":
            content = truncated_json(content if content.lstrip()[:1] in ("{", "[") else json.dumps({"answer": content}))
        options = body.get("options") or {}
        content, cut = truncate_tokens(content, options.get("num_predict"))
        think = body.get("think")
        user_text = last_user_text(body.get("messages")) if kind == "chat" else str(body.get("prompt"))
        thinking = reply.thinking
        if think is False:
            thinking = None
        elif think and thinking is None:
            thinking = f"Thinking about: {first_words(user_text, 10)}"
        tool_calls = [
            {"function": {"name": call["name"], "arguments": dict(call.get("arguments") or {})}}
            for call in reply.tool_calls or ()
        ]
        prompt_count = (
            prompt_tokens(body.get("messages"))
            if kind == "chat"
            else count_tokens(str(body.get("prompt"))) + count_tokens(str(body.get("system") or ""))
        )
        eval_count = count_tokens(content) + count_tokens(thinking or "")
        load_ns = 250_000_000 if first_load else 15_000_000
        prompt_ns = max(1, prompt_count) * 250_000
        eval_ns = max(1, eval_count) * 20_000_000
        total_ns = max(int((time.monotonic() - started) * 1e9), load_ns + prompt_ns + eval_ns)
        final: dict[str, Any] = {
            "model": model,
            "created_at": now_rfc3339(),
            "done": True,
            "done_reason": "length" if cut else "stop",
            "total_duration": total_ns,
            "load_duration": load_ns,
            "prompt_eval_count": prompt_count,
            "prompt_eval_duration": prompt_ns,
            "eval_count": eval_count,
            "eval_duration": eval_ns,
        }
        if kind == "generate":
            final["context"] = list(range(1, min(prompt_count + eval_count, 64) + 1))

        def part(text: str = "", thought: str | None = None, calls: list | None = None) -> dict[str, Any]:
            if kind == "generate":
                out: dict[str, Any] = {"response": text}
                if thought is not None:
                    out["thinking"] = thought
                return out
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thought is not None:
                message["thinking"] = thought
            if calls:
                message["tool_calls"] = calls
            return {"message": message}

        if not stream:
            response = {"model": model, "created_at": final["created_at"], **part(content, thinking, tool_calls)}
            response.update({k: v for k, v in final.items() if k not in response})
            data = json.dumps(response)
            if fault == "invalid_body":
                ex.send_bytes(200, data[: len(data) // 2].encode(), "application/json; charset=utf-8")
            else:
                ex.send_bytes(200, data.encode(), "application/json; charset=utf-8")
            return

        ex.start_stream("application/x-ndjson")
        head = {"model": model, "created_at": final["created_at"]}
        chunks = [{**head, **part("", piece), "done": False} for piece in stream_pieces(thinking or "")]
        chunks += [{**head, **part(piece), "done": False} for piece in stream_pieces(content)]
        if tool_calls:
            chunks.append({**head, **part("", None, tool_calls), "done": False})
        if fault == "drop":
            for chunk in chunks[: max(1, len(chunks) // 2)]:
                ex.write_chunk(json.dumps(chunk).encode() + b"\n")
            ex.drop()
            return
        if fault == "invalid_body":
            ex.write_chunk(json.dumps(chunks[0]).encode() + b"\n" if chunks else b"")
            ex.write_chunk(b'{"model": "' + model.encode() + b'", "message": {"role": "assist\n')
            ex.end_stream()
            return
        pieces = [json.dumps(chunk).encode() + b"\n" for chunk in chunks]
        pieces.append(json.dumps({**part(""), **final}).encode() + b"\n")
        if self._stream(ex, pieces, fault) and fault != "stall":
            ex.end_stream()
