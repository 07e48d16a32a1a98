"""study.yaml: what a person decides about a study, validated strictly.

Everything a run depends on that a human chooses lives here, so a study can be committed, reviewed and re-run.
Unknown keys are errors (`extra="forbid"`): a misspelt `temprature` must not silently fall back to a default.
"""

from __future__ import annotations

import os
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from base_model_selector.study.errors import ConfigError

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"

BackendKind = Literal["ollama", "openai", "llamacpp"]
"""ollama, an OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, a gateway), or llamacpp (a GGUF file
run by llama.cpp in this process: the `embedded` extra)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SizeRange(Strict):
    min: float = Field(default=7, ge=0, description="Smallest total parameter count, in billions")
    max: float = Field(default=10, gt=0, description="Largest total parameter count, in billions")

    @model_validator(mode="after")
    def _ordered(self) -> SizeRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class Thresholds(Strict):
    """Pass-rate cut-offs of the decision: at or above `sufficient` the base model is likely enough."""

    sufficient: float = Field(default=0.70, gt=0, le=1)
    fine_tune: float = Field(default=0.50, ge=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.fine_tune >= self.sufficient:
            raise ValueError(f"fine_tune ({self.fine_tune}) must be below sufficient ({self.sufficient})")
        return self


ServerKindName = Literal["auto", "llama.cpp", "llama-cpp-python", "vllm", "lmstudio", "ollama", "openai"]
"""The servers `backend.kind: openai` knows apart; `openai` is any other OpenAI-compatible endpoint."""


class BackendConfig(Strict):
    """Where the model runs: Ollama (the default), an OpenAI-compatible server, or llama.cpp in this process.

    `llamacpp` loads a GGUF file into the process itself (the `embedded` extra), so it has no hosts, serves one
    request at a time, and takes its own settings (`model`, `n_ctx`, `n_threads`, `n_gpu_layers`); those settings
    are refused with the other kinds, where the server decides them.
    """

    kind: BackendKind = "ollama"
    hosts: list[str] = Field(
        default_factory=list,
        description="Server URLs; empty means $OLLAMA_HOST or http://127.0.0.1:11434. Several spread the load.",
    )
    parallel: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Requests in flight per host. Ollama serves one at a time unless OLLAMA_NUM_PARALLEL is raised.",
    )
    timeout_s: float = Field(
        default=300,
        gt=0,
        le=3600,
        description="Longest wait for a reply to start (prompt processing included) and for a non-streamed reply",
    )
    idle_timeout_s: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="Longest silence between two streamed pieces of a reply: a stalled reply is cut and retried",
    )
    max_retries: int = Field(default=4, ge=0, le=20)
    api_key_env: str | None = Field(default=None, description="openai kind: env var holding the API key")
    server: ServerKindName = Field(
        default="auto",
        description="openai kind: which server answers (auto: detected once per host from what it exposes)",
    )
    cache_prompt: bool = Field(
        default=True,
        description="llama.cpp server: false sends cache_prompt: false, so a repeated prompt is evaluated afresh and "
        "replies are seed-reproducible (slower: no prefix reuse)",
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="llamacpp: the GGUF under test unless --model names another: a file path, "
        "pkg:<package>/<file> (a file inside an installed Python package) or hf:<owner>/<repo>/<file>",
    )
    n_ctx: int | None = Field(
        default=None,
        ge=512,
        le=1_048_576,
        description="llamacpp: context tokens; None = 4096, or more when a request asks for it, up to the model's "
        "native context",
    )
    n_threads: int | None = Field(
        default=None, ge=1, le=1024, description="llamacpp: generation threads; None = llama.cpp's default"
    )
    n_gpu_layers: int = Field(
        default=0,
        ge=-1,
        le=100_000,
        description="llamacpp: layers offloaded to the GPU (a GPU build of llama-cpp-python); -1 = all",
    )

    @model_validator(mode="after")
    def _settings_of_the_kind(self) -> BackendConfig:
        if self.server != "auto" and self.kind != "openai":
            raise ValueError(
                f"backend.server applies to kind openai only (kind is {self.kind}); remove it, or set kind: openai"
            )
        if self.kind == "llamacpp":
            wrong = [
                (bool(self.hosts), "hosts", "it runs in this process, not on a server; remove backend.hosts"),
                (self.api_key_env is not None, "api_key_env", "it runs in this process; remove backend.api_key_env"),
                (self.parallel > 1, "parallel", "one model instance answers one request at a time; set it to 1"),
            ]
            for given, key, why in wrong:
                if given:
                    raise ValueError(f"backend.{key} does not apply to kind llamacpp: {why}")
            return self
        local = {"model": self.model, "n_ctx": self.n_ctx, "n_threads": self.n_threads}
        local["n_gpu_layers"] = self.n_gpu_layers or None
        for key, value in local.items():
            if value is not None:
                raise ValueError(
                    f"backend.{key} applies to kind llamacpp only (kind is {self.kind}: the server decides it); "
                    "remove it, or set kind: llamacpp"
                )
        return self

    @field_validator("hosts")
    @classmethod
    def _urls(cls, hosts: list[str]) -> list[str]:
        return [server_url(host) for host in hosts]

    def resolved_hosts(self) -> list[str]:
        if self.hosts:
            return list(self.hosts)
        return [ollama_host_from_env() or DEFAULT_OLLAMA_HOST]


def ollama_host_from_env() -> str | None:
    """$OLLAMA_HOST as a server URL (None when unset), or one ConfigError naming it. Checked before the ollama
    client is imported, since that library parses the variable at import and fails with a traceback."""
    env = os.environ.get("OLLAMA_HOST", "").strip()
    if not env:
        return None
    try:
        return server_url(env)
    except ValueError as err:
        raise ConfigError(
            f"OLLAMA_HOST={env!r}: {err}; set it to host:port or http://host:port (e.g. 127.0.0.1:11434), "
            "or unset it to use http://127.0.0.1:11434"
        ) from None


def server_url(text: str) -> str:
    """A model server's base URL from `host`, `host:port` or `http(s)://host:port`; ValueError saying what is
    wrong otherwise (a bad port, no host, another scheme), so it is refused before any request is made."""
    host = text.strip()
    if not host:
        raise ValueError("a host is empty")
    if "://" not in host:
        host = "http://" + host
    try:
        parts = urlsplit(host)
        _ = parts.port  # raises on a port that is not a number in 0–65535
    except ValueError as err:
        raise ValueError(f"{text.strip()!r} is not a valid URL ({err})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{text.strip()!r} is not an http(s) URL")
    if not parts.hostname or any(ch.isspace() for ch in host):
        raise ValueError(f"{text.strip()!r} has no valid host name")
    return host.rstrip("/")


class GenerationConfig(Strict):
    """How the candidate answers each scenario in the baseline (step 5)."""

    temperature: float = Field(default=0.7, ge=0, le=2)
    seed: int = 42
    num_predict: int = Field(default=1024, ge=16, le=32768)
    num_ctx: int | None = Field(default=None, ge=512, description="Runtime context; None = the server default")
    think: bool = False


JUDGE_MODE_PATTERN = r"^(llm|agent|(agent|human):[a-z0-9][a-z0-9._-]{0,39})$"


class JudgeConfig(Strict):
    mode: str = Field(
        default="llm",
        pattern=JUDGE_MODE_PATTERN,
        description="The judge the decision rests on: llm (judge.model), agent (= agent:default: the calling agent "
        "grades via MCP), agent:<name>, or human:<name> (a person records every verdict)",
    )
    model: str | None = Field(default=None, description="Judge model tag; None = the candidate (warned)")
    batched: bool = Field(default=False, description="Judge all criteria of a response in one call")
    seed: int = 7
    agreement_sample: float = Field(default=0.0, ge=0, le=1, description="Share re-judged for agreement/kappa")
    # issue 6 (assessment): the judge's reply budget and context, and how the agreement sample is re-judged.
    num_predict: int = Field(
        default=1024, ge=64, le=32768, description="Reply tokens per criterion (batched: × criteria)"
    )
    num_ctx: int | None = Field(
        default=None, ge=512, description="Judge context; None = sized to the longest judge prompt"
    )
    agreement_model: str | None = Field(
        default=None, description="Second judge for the agreement sample; None = the judge model again"
    )
    agreement_temperature: float | None = Field(
        default=None,
        ge=0,
        le=2,
        description="Temperature of the agreement re-judge; None = 0.7 when it is the primary judge's own model "
        "(at 0 a greedy judge repeats itself), else 0 (a second opinion)",
    )
    min_kappa: float = Field(
        default=0.6, ge=-1, le=1, description="Agreement below this Cohen's kappa is flagged as a warning"
    )
    max_error_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A decision resting on more ERROR verdicts than this share is marked unusable (and says so first)",
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, mode: object) -> object:
        return mode.strip().lower() if isinstance(mode, str) else mode


class ScenarioConfig(Strict):
    n: int = Field(default=50, ge=1, le=2000)
    seed: int = 13
    generator_model: str | None = Field(default=None, description="None = the judge model, else the candidate")
    temperature: float = Field(
        default=0.9, ge=0, le=2, description="Generator temperature: high enough for varied scenarios"
    )
    num_predict: int = Field(
        default=1024,
        ge=16,
        le=32768,
        description="Generator reply tokens per scenario: room for a pasted long message; a small model that "
        "rambles is cut here",
    )
    min_share: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="evaluate goes on (with a warning) when at least this share of the planned scenarios was "
        "written; below it, it stops before the baseline",
    )


class ResearchConfig(Strict):
    """How step 1 searches the web (ddgs). Results are cached in the study, so re-running costs no requests."""

    web_search: bool = Field(default=True, description="False: research from the catalog only, no requests")
    backends: list[str] = Field(
        default_factory=lambda: ["duckduckgo", "brave", "mojeek", "startpage"],
        min_length=1,
        description="ddgs text backends, tried together; see `ddgs text --help` for the names",
    )
    region: str = Field(default="us-en", pattern=r"^[a-z]{2}-[a-z]{2}$", description="ddgs region, e.g. us-en")
    safesearch: Literal["on", "moderate", "off"] = "moderate"
    max_results: int = Field(default=8, ge=1, le=50, description="Results per query")
    cache_ttl_hours: float = Field(default=168, ge=0, description="Re-asking within this costs no request")
    retries: int = Field(default=2, ge=0, le=6, description="Retries of a blocked or failed query")
    backoff_s: float = Field(default=2.0, ge=0, le=60, description="First retry delay; doubles each retry")
    timeout_s: float = Field(default=10, gt=0, le=120)
    fetch_pages: int = Field(default=0, ge=0, le=10, description="Top result pages to fetch and extract")
    allow_gguf_import: bool = Field(
        default=False,
        description="True: a model without an Ollama tag may rank first (you will import its GGUF with a Modelfile)",
    )

    @field_validator("backends")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        out = [n.strip().lower() for n in names]
        bad = [n for n in out if not re.fullmatch(r"[a-z0-9_]+", n)]
        if bad:
            raise ValueError(f"backend name {bad[0]!r} is not a ddgs backend name (e.g. duckduckgo, brave)")
        return out


class StudyConfig(Strict):
    domain: str = Field(min_length=2, max_length=200)
    use_case: str = Field(default="", max_length=4000)
    size_b: SizeRange = Field(default_factory=SizeRange)
    commercial_use: bool = True
    system_prompt: str | None = Field(default=None, max_length=100_000)
    system_prompt_file: str | None = Field(default=None, description="Path relative to the study directory")
    max_turns: int = Field(default=1, ge=1, le=1000, description="Longest conversation the product will hold")
    tokens_per_message: int = Field(default=200, ge=1, le=100_000)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    scenarios: ScenarioConfig = Field(default_factory=ScenarioConfig)
    research: ResearchConfig = Field(default_factory=ResearchConfig)
    docs_path: str = Field(
        default="../docs/base-model-evaluation.md",
        description="Where the decision document goes, relative to the study directory",
    )
    demonstration: bool = Field(
        default=False,
        description="True: the study only shows the pipeline (e.g. the quick start's tiny model); the decision "
        "document says so at the top, plainly",
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> StudyConfig:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            raise ValueError("give system_prompt or system_prompt_file, not both")
        return self
