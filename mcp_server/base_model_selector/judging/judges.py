"""Judge identities: who produced a verdict, and which judge the decision rests on.

A verdict is only as good as its judge, and a run may be judged several times: by a local LLM, by the agent,
by a person overruling a few items. Each judge is an identity — `llm:<model>@<digest>` (the digest is the
judge's build: a new build is a new judge), `agent:<name>`, `human:<name>` — carried by every verdict it gives.
Their verdicts live side by side in verdicts.jsonl and never replace one another. `judge.mode` in study.yaml
(or an explicit argument) names the one judge the decision rests on, the *primary*; a person's verdict overrides
it item by item; every other judge is a comparison, reported as agreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import DEFAULT_AGENT

Kind = Literal["llm", "agent", "human", "check"]
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
RECORDING_KINDS = ("agent", "human")


def kind(identity: str) -> Kind:
    """The kind of judge an identity names ('check' for the deterministic checks)."""
    head = identity.split(":", 1)[0]
    if head in ("llm", "agent", "human"):
        return head  # type: ignore[return-value]
    return "check"


def short_digest(digest: str | None) -> str:
    """The first 12 hex digits of a model digest (as `ollama list` shows them), or 'unknown'."""
    if not digest:
        return "unknown"
    return digest.removeprefix("sha256:")[:12]


def llm_identity(model: str, digest: str | None) -> str:
    return f"llm:{model}@{short_digest(digest)}"


def llm_model(identity: str) -> str:
    """`llm:gemma3:12b@abc` → `gemma3:12b` (identities written before digests were added have no `@`)."""
    body = identity.removeprefix("llm:")
    return body.rsplit("@", 1)[0] if "@" in body else body


def recording_judge(text: str | None) -> str:
    """The identity of a judge that records verdicts itself: `agent:<name>` or `human:<name>` ('agent' alone is
    `agent:default`). LLM judges are run by assess_responses, never recorded by hand."""
    value = (text or DEFAULT_AGENT).strip().lower()
    if value == "agent":
        return DEFAULT_AGENT
    head, _, name = value.partition(":")
    if head not in RECORDING_KINDS or not NAME.match(name):
        raise ConfigError(
            f"judge {text!r}: give agent:<name> or human:<name> (a name of letters, digits, '.', '_' or '-', e.g. "
            "human:dana); LLM judges are run by assess_responses (CLI `assess`), not recorded"
        )
    return value


@dataclass(frozen=True)
class Primary:
    """The judge the decision rests on. An LLM primary is known by its model until the server names its build."""

    mode: str
    kind: Kind
    model: str | None = None  # llm: the judge model's tag
    identity: str | None = None  # agent / human: the identity; llm: None until its digest is known

    @property
    def label(self) -> str:
        return self.identity or f"llm:{self.model}"

    def matches(self, identity: str) -> bool:
        """Whether `identity` is this judge (an LLM judge of the same model, whatever its build)."""
        if self.kind == "llm":
            return kind(identity) == "llm" and llm_model(identity) == self.model
        return identity == self.identity


def primary_judge(study: Study, candidate: str, mode: str | None = None) -> Primary:
    """The primary judge: `mode` (an explicit argument) or judge.mode in study.yaml."""
    chosen = (mode or study.config.judge.mode).strip().lower()
    if chosen == "llm":
        return Primary(chosen, "llm", model=study.config.judge.model or candidate)
    identity = recording_judge(chosen)
    return Primary(chosen, kind(identity), identity=identity)


def llm_settings(study: Study) -> dict[str, Any]:
    """The LLM judge's settings that shape its verdicts (num_ctx only sizes the window, so it is not among them)."""
    cfg = study.config.judge
    return {"temperature": 0.0, "seed": cfg.seed, "num_predict": cfg.num_predict, "batched": cfg.batched}


def describe(identity: str, settings: dict[str, Any] | None = None) -> str:
    """An identity with the settings that matter to a reader: `llm:x@d (temperature 0, seed 7)`."""
    if not settings or kind(identity) != "llm":
        return identity
    parts = [f"temperature {settings['temperature']:g}"] if "temperature" in settings else []
    parts += [f"seed {settings['seed']}"] if "seed" in settings else []
    parts += ["batched"] if settings.get("batched") else []
    return f"{identity} ({', '.join(parts)})" if parts else identity
