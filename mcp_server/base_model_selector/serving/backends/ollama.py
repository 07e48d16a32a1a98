"""Ollama, through the official `ollama` client, on one host or several.

Ollama is where most people run an open-weight model on their own machine, so it is the default backend. One
Ollama serves `OLLAMA_NUM_PARALLEL` requests at a time; to go faster people add machines, so `backend.hosts` may
list several and requests are spread across them (each request goes to the host with the fewest requests in
flight, ties taken in turn). The model must exist on every host; `show` and `pull` name the host that lacks it.

Contract: `OllamaBackend(config)` implements `backends.Backend`. The client library's errors are translated at
this boundary: connection refused (the client's built-in `ConnectionError`, or a raw `httpx.ConnectError` from a
stream) → `BackendUnreachable`; HTTP 404 → `ModelNotFound` with the pull command; HTTP 429/5xx, dropped
connections, stalls, timeouts and garbled bodies → `TransientBackendError`; other refusals → `RequestRejected`
(never retried).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import ollama

from base_model_selector.serving.backends.base import ChatResult, ModelInfo, ProgressFn, PullResult, tokens_per_second
from base_model_selector.serving.backends.hosts import HostPool, on_every_host
from base_model_selector.serving.backends.servers import server_info
from base_model_selector.serving.backends.streaming import paced
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import (
    BackendError,
    BackendUnreachable,
    BMSError,
    Fix,
    ModelNotFound,
    RequestRejected,
    TransientBackendError,
)

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def normalize_tag(tag: str) -> str:
    """Ollama's default tag: `llama3` and `llama3:latest` are the same model."""
    tag = tag.strip()
    return tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"


def unreachable(host: str) -> BackendUnreachable:
    return BackendUnreachable(
        f"Ollama is not reachable at {host} — start it with `ollama serve` or set OLLAMA_HOST "
        "(or backend.hosts in study.yaml) to where it runs"
    )


def not_pulled(model: str, host: str, *, several: bool = False) -> ModelNotFound:
    where = f"`OLLAMA_HOST={host} ollama pull {model}`" if several else f"`ollama pull {model}`"
    return ModelNotFound(
        f"model '{model}' is not pulled on {host} ({where} also pulls it there)",
        Fix("pull_model", f"base-model-selector pull {model}", {"model": model}),
    )


def map_error(err: BaseException, host: str, model: str | None, *, timeout_s: float | None = None) -> BMSError:
    """Translate a client-library exception into the project's error contract."""
    if isinstance(err, BMSError):
        return err
    if isinstance(err, ollama.ResponseError):
        code, text = err.status_code, str(err.error).strip()
        if code == 404 or (model and "not found" in text.lower() and code in (-1, 400)):
            if model is None:
                return BackendError(f"{host} answered 404 ({text}); is this an Ollama server?")
            return not_pulled(model, host)
        if code in TRANSIENT_STATUS or code >= 500:
            return TransientBackendError(f"{host} answered HTTP {code} for {model}: {text}")
        if code == -1:  # an error line inside a stream
            return TransientBackendError(f"{host} reported an error mid-stream for {model}: {text}")
        return RequestRejected(
            f"{host} refused the request for {model} (HTTP {code}): {text} — sending it again cannot help, so it is "
            "not retried; change what the message names"
        )
    if type(err) is ConnectionError or isinstance(err, httpx.ConnectError):
        return unreachable(host)
    if isinstance(err, httpx.TimeoutException):
        limit = f" within {timeout_s:g}s" if timeout_s else ""
        return TransientBackendError(
            f"no reply from {host}{limit} for {model} — a slow model or a busy server; raise backend.timeout_s "
            "in study.yaml if this keeps happening"
        )
    if isinstance(err, (httpx.TransportError, ConnectionError)):
        return TransientBackendError(f"the connection to {host} dropped during a request for {model} ({err!r})")
    if isinstance(err, ValueError):  # json.JSONDecodeError and pydantic.ValidationError are ValueErrors
        return TransientBackendError(f"{host} sent a reply for {model} that is not valid JSON ({err})")
    return BackendError(f"unexpected failure talking to {host} about {model}: {err!r}")


class OllamaBackend:
    """Implements `Backend` over one or more Ollama hosts (see the module docstring)."""

    def __init__(self, config: BackendConfig, *, hosts: list[str] | None = None) -> None:
        self._pool: HostPool[ollama.AsyncClient] = HostPool(
            list(hosts or config.resolved_hosts()),
            parallel=config.parallel,
            timeout_s=config.timeout_s,
            connect=lambda host, timeout, limits: ollama.AsyncClient(host=host, timeout=timeout, limits=limits),
            close=lambda client: client.close(),
        )
        self.hosts, self.parallel, self.slots = self._pool.hosts, self._pool.parallel, self._pool.slots
        self.timeout_s = config.timeout_s
        self.idle_timeout_s = config.idle_timeout_s

    # ------------------------------------------------------------------ plumbing
    async def _tags(self, host: str) -> dict[str, Any]:
        try:
            listing = await self._pool.client(host).list()
        except Exception as err:
            raise map_error(err, host, None, timeout_s=self.timeout_s) from None
        return {normalize_tag(m.model or ""): m for m in listing.models if m.model}

    async def aclose(self) -> None:
        await self._pool.aclose()

    # ------------------------------------------------------------------ Backend
    async def list_models(self) -> list[str]:
        """Tags present on every host, in the first host's order."""
        return on_every_host(await self._pool.each(self._tags))

    async def show(self, model: str) -> ModelInfo:
        tag = normalize_tag(model)
        listings = await self._pool.each(self._tags)
        missing = [h for h, tags in zip(self.hosts, listings, strict=True) if tag not in tags]
        if missing:
            if len(self.hosts) == 1:
                raise not_pulled(model, missing[0])
            have = [h for h in self.hosts if h not in missing]
            raise ModelNotFound(
                f"model '{model}' is missing on {', '.join(missing)} (present on {', '.join(have) or 'no host'}; "
                f"`OLLAMA_HOST={missing[0]} ollama pull {model}` also pulls it there)",
                Fix("pull_model", f"base-model-selector pull {model}", {"model": model}),
            )
        host = self.hosts[0]
        try:
            shown = await self._pool.client(host).show(model)
        except Exception as err:
            raise map_error(err, host, model, timeout_s=self.timeout_s) from None
        digests = {h: tags[tag].digest for h, tags in zip(self.hosts, listings, strict=True)}
        warnings = []
        if len(set(digests.values())) > 1:
            builds = ", ".join(f"{h}: {str(d)[:12]}" for h, d in digests.items())
            warnings.append(
                f"the hosts hold different builds of {model} ({builds}); pull it again on each host so every "
                "response comes from the same weights"
            )
        return _model_info(model, shown, listings[0][tag], self.hosts, warnings)

    async def pull(self, model: str, progress: ProgressFn | None = None) -> PullResult:
        started = time.monotonic()
        tag = normalize_tag(model)
        listings = await self._pool.each(self._tags)
        lacking = [h for h, tags in zip(self.hosts, listings, strict=True) if tag not in tags]
        if not lacking:
            entry = listings[0][tag]
            if progress is not None:
                size = float(entry.size or 0) or None
                await progress(size or 1.0, size or 1.0, f"{model} is already present")
            return PullResult(
                model=model, status="present", hosts=self.hosts, digest=entry.digest, bytes_total=entry.size
            )
        total_bytes = 0
        for host in lacking:
            total_bytes = await self._pull_on(host, model, progress)
        after = await self._tags(lacking[-1])
        entry = after.get(tag)
        return PullResult(
            model=model,
            status="pulled",
            hosts=self.hosts,
            pulled_on=lacking,
            bytes_total=(entry.size if entry is not None else None) or total_bytes or None,
            digest=entry.digest if entry is not None else None,
            elapsed_s=round(time.monotonic() - started, 2),
        )

    async def _pull_on(self, host: str, model: str, progress: ProgressFn | None) -> int:
        layers: dict[str, tuple[int, int]] = {}
        status, last_report, success = "", 0.0, False

        def done_total() -> tuple[int, int]:
            return sum(c for c, _ in layers.values()), sum(t for _, t in layers.values())

        try:
            stream = await self._pool.client(host).pull(model, stream=True)
            async for part in stream:
                if part.digest and part.total:
                    layers[part.digest] = (min(part.completed or 0, part.total), part.total)
                changed = part.status != status
                status = part.status or status
                success = success or status == "success"
                now = time.monotonic()
                if progress is not None and (changed or now - last_report >= 0.2):
                    last_report = now
                    done, total = done_total()
                    await progress(float(done), float(total) or None, f"{host}: {status}")
        except Exception as err:
            mapped = map_error(err, host, model, timeout_s=self.timeout_s)
            text = str(err).lower()
            if isinstance(err, ollama.ResponseError) and ("manifest" in text or "does not exist" in text):
                name = model.split(":")[0].rsplit("/", 1)[-1]
                raise ModelNotFound(
                    f"'{model}' is not a tag the Ollama registry knows ({err.error}); find valid tags at "
                    f"https://ollama.com/library/{name}/tags (or `ollama list` for the models you have)"
                ) from None
            if isinstance(mapped, TransientBackendError):
                done, total = done_total()
                raise TransientBackendError(
                    f"the pull of {model} on {host} was interrupted at {_percent(done, total)} — run the same "
                    "pull again; Ollama keeps the downloaded data and resumes where it stopped"
                ) from None
            raise mapped from None
        if not success:
            done, total = done_total()
            raise TransientBackendError(
                f"the pull of {model} on {host} ended early at {_percent(done, total)} without 'success' — run "
                "the same pull again to resume"
            )
        done, total = done_total()
        if progress is not None:
            await progress(float(total or 1), float(total or 1), f"{host}: pulled {model}")
        return total

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        options: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        think: bool | None = None,
    ) -> ChatResult:
        """One reply, streamed with an idle timeout (`streaming.paced`); closing the stream, when it stalls or the
        caller is cancelled, is what makes Ollama stop generating it."""
        text: list[str] = []
        thinking: list[str] = []
        last: Any = None
        with self._pool.lease() as host:
            started = time.perf_counter()
            try:
                stream = await self._pool.client(host).chat(
                    model=model, messages=messages, options=options, format=schema, think=think, stream=True
                )
                what = f"the reply from {host} for {model}"
                try:
                    async for part in paced(stream, first_s=self.timeout_s, idle_s=self.idle_timeout_s, what=what):
                        text.append(part.message.content or "")
                        thinking.append(part.message.thinking or "")
                        last = part
                finally:
                    close = getattr(stream, "aclose", None)  # an async generator: closing it closes the response
                    if close is not None:
                        await close()
            except Exception as err:
                raise map_error(err, host, model, timeout_s=self.timeout_s) from None
        latency = time.perf_counter() - started
        if last is None or not last.done:
            raise TransientBackendError(f"the reply from {host} for {model} ended before it finished")
        eval_s = last.eval_duration / 1e9 if last.eval_duration else None
        return ChatResult(
            text="".join(text),
            thinking="".join(thinking) or None,
            done_reason=last.done_reason,
            prompt_tokens=last.prompt_eval_count,
            output_tokens=last.eval_count,
            latency_s=round(latency, 4),
            tokens_per_s=tokens_per_second(last.eval_count, eval_s or latency),
            structured_output="format" if schema is not None else None,
            host=host,
            model=model,
        )


def _percent(done: int, total: int) -> str:
    if not total:
        return "the start"
    return f"{100 * done / total:.0f}% ({done / 1e9:.2f} of {total / 1e9:.2f} GB)"


def _model_info(model: str, shown: Any, listed: Any, hosts: list[str], warnings: list[str]) -> ModelInfo:
    details = shown.details
    info: dict[str, Any] = dict(shown.modelinfo or {})
    arch = info.get("general.architecture") or (details.family if details else None)
    context = info.get(f"{arch}.context_length") if arch else None
    if context is None:  # some builds name the key after another architecture string
        context = next((v for k, v in info.items() if k.endswith(".context_length")), None)
    license_text = (shown.license or "").strip()
    count = info.get("general.parameter_count")
    server = server_info("ollama", detected=False, extras={}, context=None, cache_prompt=True)
    server.structured_output = "format"
    facts = ModelInfo(
        model=model,
        hosts=hosts,
        digest=listed.digest,
        family=details.family if details else None,
        families=list(details.families or []) if details else [],
        architecture=arch,
        parameter_size=details.parameter_size if details else None,
        parameter_count=int(count) if isinstance(count, (int, float)) else None,
        quantization=details.quantization_level if details else None,
        context_length=int(context) if isinstance(context, (int, float)) else None,
        license_first_line=license_text.splitlines()[0].strip() if license_text else None,
        capabilities=list(shown.capabilities or []),
        size_bytes=int(listed.size) if listed.size is not None else None,
        server=server,
        warnings=warnings,
    )
    reported = {
        "digest": facts.digest,
        "parameter count": facts.parameters_b,
        "quantisation": facts.quantization,
        "native context": facts.context_length,
        "licence": facts.license_first_line,
        "architecture": facts.architecture,
    }
    facts.not_reported = [name for name, value in reported.items() if not value]
    return facts
