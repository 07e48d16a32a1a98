"""`FakeOpenAI`: an in-process server for the OpenAI-compatible API that vLLM, llama.cpp and LM Studio serve.

Besides Ollama, the tool can evaluate models behind any OpenAI-compatible endpoint. This fake
answers `GET /v1/models` and `POST /v1/chat/completions` (whole or as `text/event-stream` chunks
ending in ``data: [DONE]``), honours `response_format` JSON schemas and `max_tokens`, reports
`usage`, and shares `FakeOllama`'s controls (parallel slots, delay, scripted replies, faults), so
the same failure scenarios can be replayed against either backend.
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
    prompt_tokens,
    stream_pieces,
    truncate_tokens,
    truncated_json,
)
from .schema import schema_instance

JSON = "application/json"


def openai_error(message: str, type_: str, code: Any = None, param: str | None = None) -> dict[str, Any]:
    """The error body shape of the OpenAI API (and of vLLM's compatible server)."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class FakeOpenAI(FakeServerBase):
    """A fake OpenAI-compatible server. Use as a context manager or call `start()` / `stop()`.

    Args:
        models: served model ids, or id -> ModelSpec (its `context_length` is the max model
            length); None gives ``("qwen3-8b",)``.
        owned_by: `owned_by` reported in `/v1/models` ("vllm", "llamacpp", "organization_owner", ...).
        api_key: when set, requests need ``Authorization: Bearer <api_key>`` or get 401.
        parallel, delay, max_queue, slot_timeout, responder: as for `FakeOllama`.
    """

    def __init__(
        self,
        models: Iterable[str] | Mapping[str, ModelSpec] | None = None,
        *,
        owned_by: str = "vllm",
        api_key: str | None = None,
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
        self.owned_by = owned_by
        self.api_key = api_key

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
            with self._model_lock:
                models = dict(self._models)
            data = [
                {
                    "id": name,
                    "object": "model",
                    "created": 1_700_000_000,
                    "owned_by": self.owned_by,
                    "max_model_len": spec.context_length,
                }
                for name, spec in models.items()
            ]
            ex.send_json(200, {"object": "list", "data": data})
        elif route == ("POST", "/v1/chat/completions"):
            self._chat(ex)
        else:
            ex.send_json(404, openai_error(f"Not found: {ex.method} {ex.path}", "invalid_request_error", "not_found"))

    # chat --------------------------------------------------------------------------------------

    def _chat(self, ex: Exchange) -> None:
        body = ex.body
        if ex.body_error or not isinstance(body, dict):
            ex.send_json(400, openai_error(ex.body_error or "missing request body", "invalid_request_error"))
            return
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            ex.send_json(
                400, openai_error("you must provide a model parameter", "invalid_request_error", param="model")
            )
            return
        if not isinstance(messages, list) or not messages:
            ex.send_json(400, openai_error("messages: at least one message is required", "invalid_request_error"))
            return
        with self._model_lock:
            spec = self._models.get(model)
        if spec is None:
            ex.send_json(
                404,
                openai_error(
                    f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found", "model"
                ),
            )
            return
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        n_prompt = prompt_tokens(messages)
        if n_prompt + (max_tokens or 0) > spec.context_length:
            ex.send_json(
                400,
                openai_error(
                    f"This model's maximum context length is {spec.context_length} tokens. However, you requested "
                    f"{n_prompt + (max_tokens or 0)} tokens ({n_prompt} in the messages, {max_tokens or 0} in the "
                    "completion). Please reduce the length of the messages or completion.",
                    "BadRequestError",
                    400,
                ),
            )
            return
        stream = bool(body.get("stream", False))
        fault = self._begin_inference()
        if fault == "503":
            ex.send_json(503, openai_error("The server is overloaded, please try again later.", "server_error", 503))
            return
        if fault == "http500":
            ex.send_json(500, openai_error("Internal server error", "server_error", 500))
            return
        try:
            with self._slots.hold():
                self._work()
                if fault == "drop" and not stream:
                    ex.drop()
                    return
                self._answer(ex, body, model, stream, fault, n_prompt, max_tokens)
        except ServerBusy:
            ex.send_json(503, openai_error("The server is overloaded, please try again later.", "server_error", 503))

    def _default_reply(self, body: dict) -> ReplyLike:
        text = echo_text(body.get("messages"))
        response_format = body.get("response_format") or {}
        schema = body.get("guided_json")
        if response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema", {})
        if isinstance(schema, str):
            schema = json.loads(schema)
        if isinstance(schema, dict):
            return json.dumps(schema_instance(schema))
        if response_format.get("type") == "json_object":
            return json.dumps({"echo": text})
        return text

    def _answer(
        self,
        ex: Exchange,
        body: dict,
        model: str,
        stream: bool,
        fault: str | None,
        n_prompt: int,
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
        n_completion = count_tokens(content) + count_tokens(reply.thinking or "")
        usage = {"prompt_tokens": n_prompt, "completion_tokens": n_completion, "total_tokens": n_prompt + n_completion}
        head = {"id": f"chatcmpl-{next(self._ids):08d}", "created": int(time.time()), "model": model}

        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": content if content or not tool_calls else None}
            if reply.thinking is not None:
                message["reasoning_content"] = reply.thinking
            if tool_calls:
                message["tool_calls"] = tool_calls
            data = json.dumps(
                {
                    **head,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": usage,
                }
            )
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
        chunks.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})

        ex.start_stream("text/event-stream; charset=utf-8")
        if fault == "drop":
            for item in chunks[: max(1, len(chunks) // 2)]:
                ex.write_chunk(b"data: " + json.dumps(item).encode() + b"\n\n")
            ex.drop()
            return
        if fault == "invalid_body":
            ex.write_chunk(b'data: {"id": "' + head["id"].encode() + b'", "choices": [{"delta": {"cont\n\n')
        else:
            for item in chunks:
                ex.write_chunk(b"data: " + json.dumps(item).encode() + b"\n\n")
        ex.write_chunk(b"data: [DONE]\n\n")
        ex.end_stream()
