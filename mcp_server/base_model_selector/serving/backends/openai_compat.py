"""OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio, a gateway), over plain httpx.

When one Ollama machine is not enough people move to a server built for throughput; nearly all of them speak
`POST /v1/chat/completions`. This backend needs nothing but httpx. Structured output goes through
`response_format: {"type": "json_schema", ...}`; Ollama-style options are translated (`num_predict` →
`max_tokens`, `temperature`, `seed`, `top_p`, `stop`); thinking on/off is passed as
`chat_template_kwargs.enable_thinking`, which vLLM and llama.cpp honour for models with a thinking switch.
These servers load models at start-up, so `pull` only confirms the model is served.

Contract: `OpenAICompatBackend(config)` implements `backends.Backend`, with the same error translation as the
Ollama backend (connection refused → `BackendUnreachable`; 404 / unknown model → `ModelNotFound`; 429/5xx,
dropped connections, timeouts, garbled bodies → `TransientBackendError`; other refusals → `BackendError`).
The API key, when needed, is read from the environment variable named by `backend.api_key_env`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx

from base_model_selector.serving.backends.base import ChatResult, ModelInfo, ProgressFn, PullResult, tokens_per_second
from base_model_selector.serving.backends.hosts import HostPool, on_every_host
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import (
    BackendError,
    BackendUnreachable,
    BMSError,
    ConfigError,
    ModelNotFound,
    TransientBackendError,
)

TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_OPTION_NAMES = {"num_predict": "max_tokens", "temperature": "temperature", "seed": "seed", "top_p": "top_p"}


def base_url(host: str) -> str:
    """Accept `http://h:8000`, `http://h:8000/` or `http://h:8000/v1` alike."""
    host = host.rstrip("/")
    return host[: -len("/v1")] if host.endswith("/v1") else host


class OpenAICompatBackend:
    """Implements `Backend` over one or more OpenAI-compatible servers (see the module docstring)."""

    def __init__(self, config: BackendConfig, *, hosts: list[str] | None = None) -> None:
        if not (hosts or config.hosts):
            raise ConfigError(
                "study.yaml: backend.hosts: the openai backend needs the server URL, e.g. "
                "hosts: ['http://127.0.0.1:8000'] (vLLM) or ['http://127.0.0.1:8080'] (llama.cpp server)"
            )
        self.timeout_s = config.timeout_s
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
        self._thinking_switch = True

    # ------------------------------------------------------------------ plumbing
    def _error(self, err: BaseException, host: str, model: str | None) -> BMSError:
        if isinstance(err, BMSError):
            return err
        if isinstance(err, httpx.ConnectError):
            return BackendUnreachable(
                f"no OpenAI-compatible server is reachable at {host} — start it (vLLM: `vllm serve <model>`, "
                "llama.cpp: `llama-server -m <file>`, LM Studio: start its local server) or fix backend.hosts "
                "in study.yaml"
            )
        if isinstance(err, httpx.TimeoutException):
            return TransientBackendError(
                f"no reply from {host} within {self.timeout_s:g}s for {model}; raise backend.timeout_s in "
                "study.yaml if this keeps happening"
            )
        if isinstance(err, httpx.TransportError):
            return TransientBackendError(f"the connection to {host} dropped during a request for {model} ({err!r})")
        if isinstance(err, ValueError):
            return TransientBackendError(f"{host} sent a reply for {model} that is not valid JSON ({err})")
        return BackendError(f"unexpected failure talking to {host} about {model}: {err!r}")

    async def _request(self, host: str, method: str, path: str, model: str | None, **kw: Any) -> Any:
        try:
            response = await self._pool.client(host).request(method, path, **kw)
            data = response.json() if response.content else {}
        except Exception as err:
            raise self._error(err, host, model) from None
        if response.status_code >= 400:
            raise _status_error(response.status_code, data, host, model)
        return data

    async def _served(self, host: str) -> list[str]:
        data = await self._request(host, "GET", "/v1/models", None)
        return [str(m.get("id")) for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]

    async def aclose(self) -> None:
        await self._pool.aclose()

    # ------------------------------------------------------------------ Backend
    async def list_models(self) -> list[str]:
        return on_every_host(await self._pool.each(self._served))

    async def show(self, model: str) -> ModelInfo:
        listings = await self._pool.each(lambda host: self._request(host, "GET", "/v1/models", model))
        entries: list[dict[str, Any]] = []
        for host, data in zip(self.hosts, listings, strict=True):
            found = next((m for m in data.get("data") or [] if isinstance(m, dict) and m.get("id") == model), None)
            if found is None:
                served = ", ".join(str(m.get("id")) for m in data.get("data") or [] if isinstance(m, dict))
                raise ModelNotFound(
                    f"model '{model}' is not served at {host} (it serves: {served or 'nothing'}) — start the "
                    f"server with it (e.g. `vllm serve {model}`) or set the model to one it serves"
                )
            entries.append(found)
        first = entries[0]
        context = first.get("max_model_len") or (first.get("meta") or {}).get("n_ctx_train")
        return ModelInfo(
            model=model,
            hosts=self.hosts,
            context_length=int(context) if isinstance(context, (int, float)) else None,
            family=first.get("owned_by") if first.get("owned_by") not in (None, "", "organization_owner") else None,
            warnings=[
                "an OpenAI-compatible server does not report the weights' digest, size or licence; "
                "results are keyed by the model name, so restart-with-new-weights is not detected"
            ],
        )

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
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": False}
        for key, value in (options or {}).items():
            if key in _OPTION_NAMES and value is not None:
                body[_OPTION_NAMES[key]] = value
            elif key == "stop" and value:
                body["stop"] = value
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": schema, "strict": True},
            }
        if think is not None and self._thinking_switch:
            body["chat_template_kwargs"] = {"enable_thinking": think}
        with self._pool.lease() as host:
            started = time.perf_counter()
            try:
                data = await self._request(host, "POST", "/v1/chat/completions", model, content=json.dumps(body))
            except BackendError as err:
                # A strict gateway may reject the thinking switch: drop it for good and send the request again.
                if "chat_template_kwargs" not in body or "chat_template_kwargs" not in str(err):
                    raise
                self._thinking_switch = False
                del body["chat_template_kwargs"]
                data = await self._request(host, "POST", "/v1/chat/completions", model, content=json.dumps(body))
        latency = time.perf_counter() - started
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (KeyError, IndexError, TypeError, AttributeError):
            raise TransientBackendError(f"{host} answered without a choice for {model}: {str(data)[:200]}") from None
        usage = data.get("usage") or {}
        output_tokens = usage.get("completion_tokens")
        thinking = message.get("reasoning_content") or message.get("reasoning")
        return ChatResult(
            text=message.get("content") or "",
            thinking=thinking or None,
            done_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            output_tokens=output_tokens,
            latency_s=round(latency, 4),
            tokens_per_s=tokens_per_second(output_tokens, latency),
            host=host,
            model=model,
        )


def _status_error(code: int, data: Any, host: str, model: str | None) -> BMSError:
    error = data.get("error") if isinstance(data, dict) else None
    text = (error.get("message") if isinstance(error, dict) else error) or str(data)[:300]
    err_code = error.get("code") if isinstance(error, dict) else None
    if code == 404 or err_code == "model_not_found":
        if model is None:
            return BackendError(f"{host} answered 404 ({text}); is it an OpenAI-compatible server?")
        return ModelNotFound(
            f"model '{model}' is not served at {host} ({text}) — start the server with it "
            f"(e.g. `vllm serve {model}`) or use a model it serves"
        )
    if code in (401, 403):
        return BackendError(
            f"{host} refused the credentials (HTTP {code}: {text}); set backend.api_key_env in study.yaml to the "
            "environment variable holding the key, and export it"
        )
    if code in TRANSIENT_STATUS or code >= 500:
        return TransientBackendError(f"{host} answered HTTP {code} for {model}: {text}")
    return BackendError(f"{host} refused the request for {model} (HTTP {code}): {text}")
