"""The types of the model-server seam: the `Backend` protocol, what it returns, and small helpers every
implementation shares. `__init__.py` re-exports all of it with `make_backend`; see its docstring for the contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from base_model_selector.study.types import ServerInfo

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]
"""`async (done, total, message) -> None`: the progress callback every long core function accepts."""


class ChatResult(BaseModel):
    """One model reply and how it was produced."""

    text: str
    thinking: str | None = None
    done_reason: str | None = Field(default=None, description="'stop', or 'length' when num_predict cut it")
    prompt_tokens: int | None = None
    cached_tokens: int | None = Field(
        default=None, description="Prompt tokens the server reused from its cache instead of evaluating them"
    )
    output_tokens: int | None = None
    latency_s: float
    tokens_per_s: float | None = Field(
        default=None,
        description="Decode rate: output tokens per second of generation, from the server's timings when it "
        "reports them, else from the first to the last streamed token (prompt processing excluded)",
    )
    structured_output: str | None = Field(
        default=None, description="How the JSON schema was sent: json_schema, json_object+schema, format or none"
    )
    host: str
    model: str

    @property
    def truncated(self) -> bool:
        return self.done_reason == "length"


class ModelInfo(BaseModel):
    """The facts a server reports about one model (Ollama's /api/show and /api/tags, or a GGUF file's header)."""

    model: str
    hosts: list[str] = Field(description="Every host the model was found on")
    digest: str | None = Field(default=None, description="Content digest; keys results so a new build re-runs")
    family: str | None = None
    families: list[str] = Field(default_factory=list)
    architecture: str | None = None
    parameter_size: str | None = Field(default=None, description="As the server reports it, e.g. '8.2B'")
    parameter_count: int | None = None
    quantization: str | None = None
    context_length: int | None = Field(default=None, description="Native context, from model_info")
    license_first_line: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    size_bytes: int | None = None
    server: ServerInfo | None = Field(default=None, description="The server (of the first host) and its limits")
    not_reported: list[str] = Field(default_factory=list, description="Facts this server does not report")
    name: str | None = Field(default=None, description="The model's own name (GGUF general.name)")
    chat_template: str | None = Field(default=None, description="The chat template the model ships (GGUF)")
    catalog_names: list[str] = Field(
        default_factory=list, description="Names the catalog may list it under, from its own metadata (GGUF)"
    )
    warnings: list[str] = Field(default_factory=list, description="e.g. hosts holding different builds")

    @property
    def parameters_b(self) -> float | None:
        if self.parameter_count:
            return round(self.parameter_count / 1e9, 3)
        return parse_parameter_size(self.parameter_size)


class PullResult(BaseModel):
    """What a pull did on each host."""

    model: str
    status: Literal["present", "pulled"] = Field(description="present: nothing to download")
    hosts: list[str]
    pulled_on: list[str] = Field(default_factory=list)
    bytes_total: int | None = None
    digest: str | None = None
    elapsed_s: float = 0.0

    def summary(self) -> str:
        if self.status == "present":
            return f"{self.model} is already present on {', '.join(self.hosts)}; nothing to download."
        size = f" ({self.bytes_total / 1e9:.2f} GB)" if self.bytes_total else ""
        return (
            f"Pulled {self.model}{size} on {', '.join(self.pulled_on)} in {self.elapsed_s:.1f}s. "
            "Next: check it (MCP check_model, CLI `base-model-selector check`)."
        )


@runtime_checkable
class Backend(Protocol):
    """A model server (one or several hosts). See the module docstring for the error contract."""

    slots: int

    async def list_models(self) -> list[str]: ...

    async def show(self, model: str) -> ModelInfo: ...

    async def pull(self, model: str, progress: ProgressFn | None = None) -> PullResult: ...

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        options: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        think: bool | None = None,
    ) -> ChatResult: ...

    async def aclose(self) -> None: ...


def single_turn(system: str | None, text: str) -> list[dict[str, str]]:
    """The `messages` for one user turn, after the system prompt when there is one.

    This is how the model under test is addressed everywhere (the smoke test, the baseline), so a check answers
    under the same instructions as the run it precedes.
    """
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


def parse_parameter_size(text: str | None) -> float | None:
    """'8.2B' → 8.2, '268.10M' → 0.268; None when it cannot be read."""
    if not text:
        return None
    import re

    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMBT]?)\s*", text.upper())
    if not match:
        return None
    scale = {"": 1e-9, "K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3}[match.group(2)]
    return round(float(match.group(1)) * scale, 3)


def tokens_per_second(tokens: int | None, seconds: float | None) -> float | None:
    if not tokens or not seconds or seconds <= 0:
        return None
    return round(tokens / seconds, 2)
