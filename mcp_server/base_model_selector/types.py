"""The records that flow from one step to the next: the contract between modules, files and tools.

Each step writes these to the study directory and the next step reads them back, so their field names are the
on-disk format. Records the tool writes allow no unknown fields either: a file from a newer, incompatible
version fails loudly instead of being half-read.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    created_at: str = Field(default_factory=utc_now)


# ---------------------------------------------------------------- step 5: baseline responses
class BaselineResponse(Record):
    key: str = Field(
        description="Hash of (model digest, messages, options): identical requests are never re-run"
    )
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
class CriterionVerdict(Record):
    """One judged (response, criterion) pair, with everything needed to audit it later."""

    key: str = Field(
        description="Hash of (response key, criterion, judge): a finished verdict is never redone"
    )
    scenario_id: str
    response_key: str
    criterion_id: str
    answer: Answer
    reasoning: str = ""
    judge: str = Field(description="'llm:<model>', 'agent', or 'check'")
    prompt: str | None = None
    raw_reply: str | None = None
    error: str | None = None
    created_at: str = Field(default_factory=utc_now)


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
