"""What each OpenAI-compatible server accepts and refuses, as its documentation (and a real run) says.

`FakeOpenAI(kind=...)` answers like one of them, so every fallback of the backend is exercised in the fast suite:

- ``vllm``: lists `max_model_len`; takes `json_schema` (and `json_object` without enforcing a schema); refuses a
  prompt plus `max_tokens` longer than the model with HTTP 400 (`flat_errors`: the flat error body of versions
  before the nested one); 404 for an unknown model. (docs.vllm.ai, OpenAI-compatible server; `ErrorResponse`.)
- ``llama.cpp`` (llama-server): `/props` (`default_generation_settings.n_ctx` per slot, `total_slots`, `build_info`),
  `/v1/models` with `meta` (`n_params`, `size`, `n_ctx_train`); takes `json_schema` and `json_object` + `schema`;
  answers any model name; reports `timings` (with `cache_n`, the prompt tokens reused) and honours `cache_prompt`;
  a prompt longer than a slot's context is HTTP 400 `exceed_context_size_error`. (tools/server/README.md.)
- ``llama-cpp-python``: `/openapi.json` titled "🦙 llama.cpp Python API"; no `/props`; refuses `json_schema` with
  HTTP **500** and a pydantic validation message (its route handler turns every exception into a 500); takes
  `json_object` + `schema`; answers any model name; a prompt longer than `--n_ctx` is HTTP 400 when not streamed
  and an *empty* 200 stream when streamed; no usage in streams; a waiting request ends a running stream early
  with `[DONE]` (`interrupt_requests`). (llama_cpp/server/app.py, errors.py; observed on 0.3.36.)
- ``lmstudio``: `/api/v0/models` with `state`, `arch`, `quantization`, `max_context_length`; takes `json_schema`,
  refuses `json_object` with HTTP 400 `{"error": "'response_format.type' must be 'json_schema' or 'text'"}`;
  with one model loaded it answers any name; unknown paths get 200 anyway. (lmstudio.ai/docs; bug tracker #189.)
- ``openai``: a strict gateway: unknown request fields are HTTP 400 "Unrecognized request argument supplied".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("vllm", "llama.cpp", "llama-cpp-python", "lmstudio", "openai")

OPENAI_FIELDS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
        "seed", "top_p", "stop", "response_format", "n", "user", "tools", "tool_choice", "logprobs",
        "presence_penalty", "frequency_penalty",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Kind:
    name: str
    owned_by: str
    formats: frozenset[str]  # response_format types it takes
    json_object_schema: bool = False  # `json_object` honours a `schema` key
    any_model: bool = False  # answers any model name with the loaded one
    timings: bool = False  # llama.cpp `timings`, prompt-cache reuse and `cache_prompt`
    stream_usage: bool = True  # a usage chunk when `stream_options.include_usage`
    strict_fields: bool = False
    overflow_counts_reply: bool = False  # prompt + max_tokens must fit (vLLM); else the prompt alone (llama.cpp)
    silent_stream_errors: bool = False
    interrupts: bool = False


BEHAVIOUR = {
    "vllm": Kind("vllm", "vllm", frozenset({"json_schema", "json_object", "text"}), overflow_counts_reply=True),
    "llama.cpp": Kind(
        "llama.cpp", "llamacpp", frozenset({"json_schema", "json_object", "text"}), True, True, timings=True
    ),
    "llama-cpp-python": Kind(
        "llama-cpp-python",
        "me",
        frozenset({"json_object", "text"}),
        True,
        True,
        stream_usage=False,
        silent_stream_errors=True,
        interrupts=True,
    ),
    "lmstudio": Kind("lmstudio", "organization_owner", frozenset({"json_schema", "text"}), any_model=True),
    "openai": Kind("openai", "system", frozenset({"json_schema", "json_object", "text"}), strict_fields=True),
}


def error_body(
    kind: str, status: int, message: str, type_: str, code: Any = None, *, flat: bool = False, **extra: Any
) -> dict[str, Any]:
    """The error body shape each kind sends (`flat`: vLLM before it nested the error object)."""
    if kind == "vllm" and flat:
        return {"object": "error", "message": message, "type": type_, "param": None, "code": status}
    if kind == "lmstudio" and code is None:
        return {"error": message}
    return {"error": {"message": message, "type": type_, "param": None, "code": code, **extra}}


def format_refusal(kind: str, requested: str) -> tuple[int, dict[str, Any]]:
    """How a kind answers a response_format type it does not take."""
    if kind == "llama-cpp-python":
        message = (
            "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': "
            f"\"Input should be 'text' or 'json_object'\", 'input': '{requested}', 'ctx': {{'expected': \"'text' "
            'or \'json_object\'"}}\n\n  File "llama_cpp/server/app.py", line 376, in create_chat_completion\n'
            "    POST /v1/chat/completions"
        )
        return 500, error_body(kind, 500, message, "internal_server_error")
    if kind == "lmstudio":
        return 400, {"error": "'response_format.type' must be 'json_schema' or 'text'"}
    return 400, error_body(kind, 400, f"response_format type {requested!r} is not supported", "BadRequestError")


def overflow(
    kind: str, prompt: int, context: int, max_tokens: int | None, *, flat: bool = False
) -> tuple[int, dict[str, Any]]:
    """How a kind refuses a request that does not fit its context."""
    if kind == "llama.cpp":
        message = f"request ({prompt} tokens) exceeds the available context size ({context} tokens), try increasing it"
        return 400, error_body(
            kind, 400, message, "exceed_context_size_error", 400, n_prompt_tokens=prompt, n_ctx=context
        )
    asked = prompt + (max_tokens or 0)
    message = (
        f"This model's maximum context length is {context} tokens. However, you requested {asked} tokens ({prompt} "
        f"in the messages, {max_tokens or 0} in the completion). Please reduce the length of the messages or "
        "completion."
    )
    code = "context_length_exceeded" if kind == "llama-cpp-python" else 400
    return 400, error_body(kind, 400, message, "BadRequestError", code, flat=flat)
