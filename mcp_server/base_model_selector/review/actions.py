"""The review page's writes: the notes into notes.md, the decision document re-rendered, a person's verdicts.

Each is one call into the core, which takes the study lock, so the page and a running CLI or MCP tool never
interleave their writes; a busy study is refused with the lock holder's name instead of waiting. The page never
writes a file itself. Request bodies are untrusted: they are validated here (unknown fields refused, lengths
capped) before anything is read from disk.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from base_model_selector.decision import notes as notes_mod
from base_model_selector.decision.decide import decide
from base_model_selector.decision.report import DecisionDoc, write_decision_doc
from base_model_selector.judging.agent_judge import AgentVerdict, RecordResult, record_assessments
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StudyError

TEXT_MAX = notes_mod.MAX_NOTES_CHARS
PATTERN_MAX = 2_000
COMMENT_MAX = 4_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotesSeen(Strict):
    """The notes as the page showed them when it loaded: what a save may replace without losing anyone's edit."""

    qualitative: str = Field(default="", max_length=TEXT_MAX)
    next_steps: str = Field(default="", max_length=TEXT_MAX)
    patterns: dict[str, str] = Field(default_factory=dict, max_length=500)


class NotesChange(Strict):
    """The sections the person edited (absent: unchanged). An empty pattern removes that criterion's line."""

    qualitative: str | None = Field(default=None, max_length=TEXT_MAX)
    next_steps: str | None = Field(default=None, max_length=TEXT_MAX)
    patterns: dict[str, str] = Field(default_factory=dict, max_length=500)
    base: NotesSeen = Field(default_factory=NotesSeen)


class RenderRequest(Strict):
    model: str = Field(max_length=200)


class Overrule(Strict):
    """A person's verdict on one item, from a card's overrule form."""

    model: str = Field(max_length=200)
    item_id: str = Field(max_length=300, description="The item's ID as the page showed it")
    answer: Literal["YES", "NO", "NA"]
    comment: str = Field(default="", max_length=COMMENT_MAX)


def save_notes(study: Study, change: NotesChange) -> notes_mod.Notes:
    """Merge the person's sections into notes.md, refusing when one of them was edited on disk meanwhile."""
    for cid, text in change.patterns.items():
        if len(text) > PATTERN_MAX:
            raise StudyError(f"the pattern for {cid} is {len(text):,} characters; keep it under {PATTERN_MAX}")
    base = notes_mod.Notes(change.base.qualitative, dict(change.base.patterns), change.base.next_steps)
    return notes_mod.update_notes(
        study,
        qualitative=change.qualitative,
        patterns=change.patterns or None,
        next_steps=change.next_steps,
        base=base,
    )


def rerender(study: Study, model: str) -> DecisionDoc:
    """Decide again from the current verdicts, then write the document with notes.md; says what is still missing."""
    decide(study, model)
    return write_decision_doc(study, model)


def overrule(study: Study, reviewer: str, change: Overrule) -> RecordResult:
    """Store a person's verdict on one item as `reviewer` (human:<name>), appended like every judge's verdict.

    It overrides the primary judge on that item, the later person's verdict winning; the assessments are
    re-scored when every item has a verdict that counts. NA where the rubric forbids it is refused by the core.
    """
    comment = change.comment.strip()
    verdict = AgentVerdict(
        item_id=change.item_id,
        reasoning=comment or f"{change.answer}, marked on the review page without a comment",
        answer=change.answer,
        comment=comment or None,
    )
    return record_assessments(study, [verdict], change.model, judge=reviewer)
