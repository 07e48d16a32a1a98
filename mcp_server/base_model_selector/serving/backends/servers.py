"""Which OpenAI-compatible server answers, and what each kind says about itself, accepts and refuses.

"OpenAI-compatible" hides real differences that decide whether a study works: llama-cpp-python refuses the
`json_schema` response format that vLLM and LM Studio expect (and LM Studio refuses `json_object`); llama.cpp's
`llama-server`, llama-cpp-python and LM Studio serve *any* model name with the model they have loaded; the context
per request is fixed when the server starts and each kind names that setting differently; only llama.cpp lets a
request bypass its prompt cache. So the backend finds out once per host which kind it talks to, from what the
server exposes (never from `owned_by`), reads the facts that kind reports, and lists plainly the facts it does
not. Everything here is pure: the backend does the HTTP and passes the answers in.

Contract:
- `detect(peek, entries) -> (kind, extras)`: `peek(path)` is `GET path` returning parsed JSON or None; `entries` is
  `/v1/models`' `data`. The probes read `/props` (llama.cpp), `/api/v0/models` (LM Studio), `/openapi.json`
  (llama-cpp-python), `/api/version` (Ollama); vLLM is told by `max_model_len` in its listing.
- `KINDS[kind]`: how to start it with a model, the setting that sizes its context, its reproducibility.
- `model_facts(kind, entry, extras) -> ModelFacts fields` and the facts it does not report.
- `served_id(requested, ids)`: the one rule that matches a requested model name to what a server lists.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from base_model_selector.study.types import ServerInfo

Peek = Callable[[str], Awaitable[Any]]
Seed = Literal["yes", "no", "unknown"]

FACT_NAMES = (
    "digest",
    "parameter count",
    "quantisation",
    "native context",
    "runtime context",
    "licence",
    "architecture",
)
"""The model facts a server may report; whatever a kind leaves out is listed as not reported."""


@dataclass(frozen=True)
class ServerKind:
    name: str
    label: str
    start: str  # how to serve a model under a name, `{model}` filled in
    context_setting: str  # what sizes the context one request may use
    seed: Seed
    reproducibility: str
    prompt_cache: str
    cache_switch: bool = False  # honours `cache_prompt: false`
    serial: bool = False  # one request at a time; a second request cuts a streamed reply short


KINDS: dict[str, ServerKind] = {
    k.name: k
    for k in (
        ServerKind(
            "llama.cpp",
            "llama.cpp server (llama-server)",
            "`llama-server -m <file.gguf> --alias {model}`",
            "llama-server's -c/--ctx-size (each of its --parallel slots gets ctx-size ÷ parallel)",
            "no",
            "llama.cpp's prompt cache can change the reply to a prompt it has seen before (its docs: logits are not "
            "bit-for-bit identical across batch sizes); set backend.cache_prompt: false when exact replies matter",
            "on (cache_prompt: true, the default)",
            cache_switch=True,
        ),
        ServerKind(
            "llama-cpp-python",
            "llama-cpp-python server",
            "`python -m llama_cpp.server --model <file.gguf> --model_alias {model}`",
            "--n_ctx when starting python -m llama_cpp.server (default 2048)",
            "no",
            "llama-cpp-python reuses the longest matching prompt prefix and has no request option to turn that off, "
            "so a repeated prompt may get a different reply; use the llama.cpp server with backend.cache_prompt: "
            "false when exact replies matter",
            "always on (prefix reuse; no request option turns it off)",
            serial=True,
        ),
        ServerKind(
            "vllm",
            "vLLM",
            "`vllm serve <hf-repo> --served-model-name {model}`",
            "vllm serve --max-model-len",
            "no",
            "vLLM does not guarantee reproducible replies by default (batching changes the numerics); the seed is "
            "sent with every request",
            "not reported (automatic prefix caching is a server setting)",
        ),
        ServerKind(
            "lmstudio",
            "LM Studio",
            "`lms load {model}` (or load it in LM Studio's Developer tab)",
            "the context length the model is loaded with (`lms load <model> --context-length N`)",
            "unknown",
            "LM Studio does not document whether a seeded reply is reproducible",
            "not reported",
        ),
        ServerKind(
            "ollama",
            "Ollama",
            "`ollama pull {model}`",
            "generation.num_ctx and judge.num_ctx in study.yaml",
            "yes",
            "Ollama documents that a fixed seed gives the same text for the same prompt",
            "not reported",
        ),
        ServerKind(
            "openai",
            "an OpenAI-compatible server",
            "serve {model} on it",
            "the server's context length",
            "unknown",
            "the server does not say whether a seeded reply is reproducible",
            "not reported",
        ),
    )
}


def start_hints() -> str:
    """How to start each kind, for when nothing answers and the kind is not known."""
    return (
        "llama.cpp: `llama-server -m <file.gguf>`, llama-cpp-python: `python -m llama_cpp.server --model "
        "<file.gguf>`, vLLM: `vllm serve <model>`, LM Studio: `lms server start`"
    )


# ------------------------------------------------------------------------------------------------ detection
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def detect(peek: Peek, entries: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The server's kind from what it exposes, and the extra documents read on the way (props, listing, version).

    Content decides, never the status alone: LM Studio answers unknown paths with 200.
    """
    if any("max_model_len" in e for e in entries) or any(e.get("owned_by") == "vllm" for e in entries):
        version = _dict(await peek("/version")).get("version")
        return "vllm", {"version": version}
    props = _dict(await peek("/props"))
    if "default_generation_settings" in props or "build_info" in props or "total_slots" in props:
        return "llama.cpp", {"props": props, "version": props.get("build_info")}
    listing = _dict(await peek("/api/v0/models"))
    models = [m for m in listing.get("data") or [] if isinstance(m, dict)]
    if models and any("compatibility_type" in m or "state" in m for m in models):
        return "lmstudio", {"lmstudio": models}
    info = _dict(_dict(await peek("/openapi.json")).get("info"))
    if "llama.cpp python" in str(info.get("title", "")).lower():
        return "llama-cpp-python", {"version": info.get("version")}
    version = _dict(await peek("/api/version")).get("version")
    if isinstance(version, str):
        return "ollama", {"version": version}
    return "openai", {}


async def read_extras(kind: str, peek: Peek) -> dict[str, Any]:
    """The documents a kind named in study.yaml (not detected) reports its facts in."""
    if kind == "llama.cpp":
        props = _dict(await peek("/props"))
        return {"props": props, "version": props.get("build_info")}
    if kind == "lmstudio":
        return {"lmstudio": [m for m in _dict(await peek("/api/v0/models")).get("data") or [] if isinstance(m, dict)]}
    if kind == "vllm":
        return {"version": _dict(await peek("/version")).get("version")}
    return {}


# ------------------------------------------------------------------------------------------------ names
def served_id(requested: str, ids: list[str]) -> str | None:
    """The listed id a requested name means: the id itself, or the file name of an id that is a path to a GGUF
    (llama.cpp and llama-cpp-python list the path they were started with unless given an alias)."""
    if requested in ids:
        return requested
    for listed in ids:
        name = re.split(r"[\\/]", listed)[-1]
        is_file = "/" in listed or "\\" in listed or name.lower().endswith(".gguf")
        if is_file and requested in (name, re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)):
            return listed
    return None


# ------------------------------------------------------------------------------------------------ facts
def lmstudio_entry(extras: dict[str, Any], model_id: Any) -> dict[str, Any]:
    """LM Studio's own listing entry (`/api/v0/models`) for a model, or {}."""
    return next((m for m in extras.get("lmstudio") or [] if m.get("id") == model_id), {})


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def model_facts(kind: str, entry: dict[str, Any], extras: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ModelInfo fields this kind reports for a listed model, and the facts it does not report."""
    facts: dict[str, Any] = {}
    if kind == "llama.cpp":
        meta = _dict(entry.get("meta"))
        facts = {
            "parameter_count": _int(meta.get("n_params")),
            "size_bytes": _int(meta.get("size")),
            "context_length": _int(meta.get("n_ctx_train")),
        }
    elif kind == "lmstudio":
        listed = lmstudio_entry(extras, entry.get("id"))
        facts = {
            "architecture": listed.get("arch") or None,
            "quantization": listed.get("quantization") or None,
            "context_length": _int(listed.get("max_context_length")),
        }
    have = {
        "parameter count": facts.get("parameter_count"),
        "quantisation": facts.get("quantization"),
        "native context": facts.get("context_length"),
        "runtime context": runtime_context(kind, entry, extras),
        "architecture": facts.get("architecture"),
    }
    missing = [name for name in FACT_NAMES if not have.get(name)]
    return {k: v for k, v in facts.items() if v is not None}, missing


def runtime_context(kind: str, entry: dict[str, Any], extras: dict[str, Any]) -> int | None:
    """Tokens one request may use on this server now (prompt and reply), when the server says."""
    if kind == "vllm":
        return _int(entry.get("max_model_len"))
    if kind == "llama.cpp":
        props = _dict(extras.get("props"))
        return _int(_dict(props.get("default_generation_settings")).get("n_ctx")) or _int(props.get("n_ctx"))
    if kind == "lmstudio":
        return _int(lmstudio_entry(extras, entry.get("id")).get("loaded_context_length"))
    return None


def server_info(
    kind: str, *, detected: bool, extras: dict[str, Any], context: int | None, cache_prompt: bool
) -> ServerInfo:
    """What the run record says about the server: its kind, limits, and whether its replies are reproducible."""
    k = KINDS[kind]
    seed, why, cache = k.seed, k.reproducibility, k.prompt_cache
    notes = []
    if k.cache_switch and not cache_prompt:
        seed = "yes"
        why = "cache_prompt: false: every prompt is evaluated afresh, so the seed fixes the reply"
        cache = "off (backend.cache_prompt: false)"
    elif not cache_prompt:
        notes.append(f"backend.cache_prompt: false has no effect on {k.label}: it has no such request option")
    if k.serial:
        notes.append(
            f"{k.label} answers one request at a time and ends a streamed reply early when another request arrives; "
            "requests to it are sent one at a time"
        )
    slots = _int(_dict(extras.get("props")).get("total_slots"))
    version = extras.get("version")
    return ServerInfo(
        kind=kind,
        detected=detected,
        version=str(version) if version else None,
        context_tokens=context,
        slots=slots,
        seed_reproducible=seed,
        reproducibility=why,
        prompt_cache=cache,
        notes=notes,
    )
