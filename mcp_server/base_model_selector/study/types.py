"""The records that flow from one step to the next: the contract between modules, files and tools.

Each step writes these to the study directory and the next step reads them back, so their field names are the
on-disk format. Records the tool writes allow no unknown fields either: a file from a newer, incompatible
version fails loudly instead of being half-read.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(str, Enum):
    """A verdict on one criterion. ERROR means the judge's reply could not be used: it never counts as a pass."""

    YES = "YES"
    NO = "NO"
    NA = "NA"
    ERROR = "ERROR"


# ---------------------------------------------------------------- step 2: selection
class SelectedModel(Record):
    candidate_id: str = Field(description="Catalog id (or the id of a candidate the agent added)")
    name: str
    ollama_tag: str | None = None
    rationale: str = ""
    strengths: list[str] = Field(default_factory=list)
    concerns: list[str] = Field(default_factory=list)


class Selection(Record):
    primary: SelectedModel
    backup: SelectedModel | None = None
    selected_at: str = Field(default_factory=utc_now)


# ---------------------------------------------------------------- step 3: pull and verify
class SmokeTest(Record):
    """One short prompt sent to the model to prove it loads and answers, and how fast."""

    prompt: str
    text: str
    latency_s: float
    output_tokens: int | None = None
    tokens_per_s: float | None = None
    done_reason: str | None = None
    host: str | None = None


class FactCheck(Record):
    """One fact as the catalog states it and as the server reports it."""

    field: str
    catalog: str | None = None
    server: str | None = None
    status: Literal["agree", "differ", "unknown"]
    note: str = ""


class ServerInfo(Record):
    """The model server as it describes itself: what kind it is, the limits it runs with, how a JSON schema reaches
    it, and whether its replies can be reproduced from a seed. Recorded with the model's facts, so the document can
    say how the replies were produced."""

    kind: str = Field(description="ollama, llama.cpp, llama-cpp-python, vllm, lmstudio, or openai (any other)")
    detected: bool = Field(default=True, description="False when study.yaml named it (backend.server)")
    version: str | None = None
    context_tokens: int | None = Field(
        default=None, description="Tokens one request may use now (prompt and reply): the runtime context per slot"
    )
    slots: int | None = Field(default=None, description="Requests the server processes at once, when it says")
    structured_output: str | None = Field(
        default=None, description="How a JSON schema reaches it: json_schema, json_object+schema, format, or none"
    )
    seed_reproducible: Literal["yes", "no", "unknown"] = "unknown"
    reproducibility: str = Field(default="", description="Why, and what to set when exact replies matter")
    prompt_cache: str = Field(default="", description="Whether a repeated prompt prefix is reused, and the switch")
    notes: list[str] = Field(default_factory=list)


class ModelFacts(Record):
    """runs/<model>/model.json: what the model server (or the GGUF file) says the model really is, checked against
    the catalog."""

    model: str
    hosts: list[str]
    digest: str | None = None
    family: str | None = None
    architecture: str | None = None
    parameter_size: str | None = None
    parameters_b: float | None = None
    quantization: str | None = None
    context_length: int | None = Field(default=None, description="Native context from model_info")
    license_first_line: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    size_bytes: int | None = None
    name: str | None = Field(default=None, description="The model's own name, when it states one (GGUF)")
    chat_template: str | None = Field(default=None, description="The chat template it ships, when known (GGUF)")
    smoke: SmokeTest | None = None
    server: ServerInfo | None = Field(default=None, description="The server that reported these facts")
    not_reported: list[str] = Field(
        default_factory=list, description="Facts this server does not report (shown as such, never guessed)"
    )
    catalog_id: str | None = Field(default=None, description="The catalog entry compared against, if any")
    comparisons: list[FactCheck] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    checked_at: str = Field(default_factory=utc_now)


# ---------------------------------------------------------------- step 4: scenarios
class Scenario(Record):
    """One single-turn user input: the opening message only, never a whole conversation."""

    id: str = Field(description="Stable ID derived from the cell and the text")
    text: str = Field(min_length=1)
    topic: str
    subtopic: str | None = None
    style: str | None = None
    edge_case: str | None = None
    persona: str | None = None
    origin: Literal["generated", "agent", "file"] = "agent"
    slot: str | None = Field(
        default=None, description="The plan slot it fills (scenarios/plan.json); None when added without one"
    )
    created_at: str = Field(default_factory=utc_now)


# ---------------------------------------------------------------- step 5: baseline responses
class BaselineResponse(Record):
    key: str = Field(description="Hash of (model digest, messages, options): identical requests are never re-run")
    scenario_id: str
    model: str
    digest: str | None = None
    text: str
    thinking: str | None = None
    latency_s: float
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_per_s: float | None = None
    done_reason: str | None = None
    truncated: bool = False
    host: str | None = None
    created_at: str = Field(default_factory=utc_now)


# ---------------------------------------------------------------- step 6: assessment
LEGACY_AGENT = "agent"
DEFAULT_AGENT = "agent:default"


class CriterionVerdict(Record):
    """One judged (response, criterion) pair, with everything needed to audit it later.

    `judge` is the judge's identity: `llm:<model>@<digest>`, `agent:<name>`, `human:<name>` (or `check` for the
    deterministic checks). Files written before judges had identities say `agent` (read as `agent:default`) or
    `llm:<model>` without the digest (kept as written: the verdict's key still binds it to the judge's build).
    """

    key: str = Field(
        description="LLM judges: hash of (judge build, prompt, options); agents and people: hash of (response, "
        "criterion), the same for every such judge — a finished verdict is never redone"
    )
    scenario_id: str
    response_key: str
    criterion_id: str
    answer: Answer
    reasoning: str = ""
    judge: str = Field(description="'llm:<model>@<digest>', 'agent:<name>', 'human:<name>', or 'check'")
    comment: str | None = Field(default=None, description="A person's note on their verdict")
    prompt: str | None = None
    raw_reply: str | None = None
    error: str | None = None
    attempts: int = Field(default=1, description="Judge calls made: 2 when the first reply did not fit the schema")
    created_at: str = Field(default_factory=utc_now)

    @field_validator("judge")
    @classmethod
    def _identity(cls, judge: str) -> str:
        return DEFAULT_AGENT if judge == LEGACY_AGENT else judge


class Assessment(Record):
    """The scored outcome for one response under the rubric's pass rule."""

    scenario_id: str
    response_key: str
    answers: dict[str, Answer]
    reasons: dict[str, str] = Field(default_factory=dict)
    category_scores: dict[str, float]
    total: float
    passed: bool
    failed_criteria: list[str] = Field(default_factory=list)
    failed_gates: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="Criteria whose verdict was ERROR")
    judged_by: dict[str, str] = Field(
        default_factory=dict, description="Criterion ID → the person whose verdict replaced the primary judge's"
    )


class CriterionAgreement(Record):
    criterion_id: str
    n: int
    agree: int
    percent_agreement: float
    kappa: float | None = Field(description="None when n is too small or κ is undefined (one label only)")


class Agreement(Record):
    """How well judge B agrees with judge A (the judge the decision rests on) on the items both judged."""

    judge_a: str = Field(description="The judge the decision rests on, with its settings")
    judge_b: str = Field(description="The comparison judge, with its settings (e.g. temperature)")
    sampling: str = Field(description="How the compared items were drawn")
    sample: int = Field(description="Items both judges judged")
    agree: int
    percent_agreement: float = Field(description="agree / sample, 0..1")
    kappa: float | None = Field(description="Cohen's kappa; None when undefined (one label only)")
    seed: int | None = None
    by_criterion: list[CriterionAgreement] = Field(default_factory=list)
    min_kappa: float = Field(default=0.6, description="judge.min_kappa: below it the agreement is flagged")
    warning: str | None = Field(default=None, description="Set when κ is below min_kappa")
    disagreements: list[str] = Field(
        default_factory=list, description="'<scenario>/<criterion>: <A> vs <B>' for each differing pair"
    )


class AssessmentSummary(Record):
    """What the decision step reads: the pass rate over the assessed responses and where they fail."""

    model: str
    judge: str = Field(
        description="The judge the decision rests on: 'llm:<model>@<digest>', 'agent:<name>', "
        "'human:<name>', or 'checks' when the rubric has checks only"
    )
    n: int = Field(description="Responses assessed (every criterion has a verdict)")
    passed: int
    pass_rate: float = Field(description="passed / n (0 when n is 0)")
    pass_threshold: float
    pending: int = Field(default=0, description="Responses still missing verdicts (not counted in n)")
    errors: int = Field(default=0, description="ERROR verdicts (judge replies that could not be used)")
    responses_with_errors: int = 0
    failures_by_criterion: dict[str, int] = Field(
        default_factory=dict, description="Criterion/check ID → responses that failed it (NO, ERROR, invalid NA)"
    )
    gate_failures: dict[str, int] = Field(default_factory=dict, description="Gate ID → responses it failed")
    errors_by_criterion: dict[str, int] = Field(default_factory=dict)
    category_means: dict[str, float] = Field(default_factory=dict)
    mean_total: float = 0.0
    agreements: list[Agreement] = Field(default_factory=list, description="Each comparison judge vs this judge")
    warnings: list[str] = Field(default_factory=list)
    created_at: str = Field(default_factory=utc_now)


class Basis(Record):
    """What the assessments rest on: one judge, the people who overruled it item by item, and the inputs."""

    judge: str = Field(description="The primary judge's identity")
    settings: dict[str, Any] = Field(default_factory=dict, description="The primary judge's settings")
    rubric_sha256: str
    responses_sha256: str = Field(description="Hash of the (scenario, response key) pairs judged")
    items: int = Field(description="(response, criterion) items: responses × rubric criteria")
    judged: int = Field(description="Items with a verdict that counts (the primary's or a person's)")
    criterion_verdicts: int = Field(description="Of those, verdicts by the primary judge")
    overridden: int = Field(default=0, description="Items where a person's verdict replaced the primary's")
    changed: int = Field(default=0, description="Of those, items where the person answered differently")
    people: list[str] = Field(default_factory=list, description="The human judges whose verdicts count")
    errors: int = Field(default=0, description="ERROR verdicts that count (current, not superseded)")


class AssessmentReport(Record):
    """runs/<model>/assessments.json: the summary plus one scored Assessment per response, and what they rest on."""

    summary: AssessmentSummary
    assessments: list[Assessment]
    basis: Basis


class JudgeRecord(Record):
    """runs/<model>/judges/<judge>.json: one judge's coverage of the current items and, once complete, its scores.

    Every judge that ever judged a run keeps its own record beside the others; none replaces another. An LLM
    judge's record also keeps the key of every item's verdict and a fingerprint of what those keys were computed
    from, so deciding, status and recording need not re-render hundreds of judge prompts to find its verdicts.
    """

    judge: str
    settings: dict[str, Any] = Field(default_factory=dict)
    items: int
    judged: int
    errors: int = 0
    summary: AssessmentSummary | None = Field(default=None, description="Only when every item is judged")
    fingerprint: str | None = Field(default=None, description="LLM judges: hash of the inputs of `keys`")
    keys: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="LLM judges: scenario ID → criterion ID → verdict key"
    )
    updated_at: str = Field(default_factory=utc_now)
