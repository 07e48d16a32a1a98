"""The model-server seam: one small protocol every step talks to, whatever serves the model.

Steps 3 to 6 need the same four things from a model server: which models it has, the facts of one, a pull with
progress, and a chat call (optionally constrained to a JSON schema, thinking on or off). They depend on this
`Backend` protocol only, never on a client library, so tests pass a loopback fake and users can move from one
Ollama to several hosts, to an OpenAI-compatible server (vLLM, llama.cpp server, LM Studio) or to a GGUF file
run by llama.cpp in-process (`kind: llamacpp`) by editing `backend:` in study.yaml.

Contract (stable; other modules code against it):

- `make_backend(config: BackendConfig) -> Backend` builds the configured implementation. Nothing connects until
  the first call; `await backend.aclose()` releases the connections. `async with using(config, backend) as b:`
  yields a caller's backend untouched (tests, `evaluate` sharing one) or makes one and closes it on exit.
- `backend.slots` is the number of requests worth keeping in flight: hosts × `config.parallel` (1 for llamacpp:
  one in-process model instance answers one request at a time). Size the engine's concurrency to it.
- `list_models()` → tags usable on every host. `show(model)` → `ModelInfo`, checked on every host (raises
  `ModelNotFound` naming the host that lacks it), with the server's own record (`ModelInfo.server`: kind, context
  per request, reproducibility) and the facts it does not report (`not_reported`, never guessed).
  `pull(model, progress)` → `PullResult`; a model already present returns at once. `chat(...)` → `ChatResult`,
  streamed: at most `timeout_s` until the reply starts and `idle_timeout_s` between its pieces; a request cut or
  cancelled closes its connection, so the server stops. `ChatResult.structured_output` names the form the schema
  was sent in, `tokens_per_s` is the decode rate, `cached_tokens` the prompt tokens the server reused.
- Errors: `BackendUnreachable` (nothing answers at the URL; the message says how to start the server),
  `ModelNotFound` (the message holds the exact pull or serve command), `TransientBackendError` (HTTP 5xx/503/429,
  a dropped connection, a stalled reply, a garbled body: worth retrying, and `engine.run_work` does),
  `RequestRejected` (the server refused the request itself — a 4xx, a 5xx whose body is a validation error — never
  retried; `ContextOverflow` when the prompt does not fit, naming the setting to raise). A reply that does not
  match the requested JSON schema is *not* an error here: `chat` returns the text and the caller (the judge)
  decides.
- Progress callbacks have the signature `async (done, total, message) -> None` (`ProgressFn`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from base_model_selector.serving.backends.base import (
    Backend,
    ChatResult,
    ModelInfo,
    ProgressFn,
    PullResult,
    parse_parameter_size,
    single_turn,
)

if TYPE_CHECKING:
    from base_model_selector.study.config import BackendConfig


def make_backend(config: BackendConfig) -> Backend:
    """The backend study.yaml asks for. Client libraries are imported here, not at package import."""
    if config.kind == "openai":
        from base_model_selector.serving.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(config)
    if config.kind == "llamacpp":
        from base_model_selector.serving.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(config)
    from base_model_selector.study.config import ollama_host_from_env

    ollama_host_from_env()  # a bad $OLLAMA_HOST is one clear error here, not a traceback from `import ollama`
    from base_model_selector.serving.backends.ollama import OllamaBackend

    return OllamaBackend(config)


@asynccontextmanager
async def using(config: BackendConfig, backend: Backend | None = None) -> AsyncIterator[Backend]:
    """The given backend (left open: its owner closes it), else a new one from `config`, closed on exit."""
    if backend is not None:
        yield backend
        return
    made = make_backend(config)
    try:
        yield made
    finally:
        await made.aclose()


__all__ = [
    "Backend",
    "ChatResult",
    "ModelInfo",
    "ProgressFn",
    "PullResult",
    "make_backend",
    "parse_parameter_size",
    "single_turn",
    "using",
]
