"""Step 2b: record the primary model to test and its backup, with the reasons, as selection.json.

The choice is a human decision taken from the comparison table, so it may only name models that are in the
table (a model found elsewhere is added with its sources through research_candidates first) and it keeps the
rationale, expected strengths and concerns that later steps and the decision document quote. When the caller
gives no strengths or concerns, the table's fit reasons and flags fill them, so nothing known is left out.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from base_model_selector.research.compare import ComparisonRow, ComparisonTable, read_table, stars_text
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError, Fix, StepNotReady, cli_command
from base_model_selector.study.types import SelectedModel, Selection

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:+-]{0,199}$")


class Choice(BaseModel):
    """One chosen candidate and why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    candidate: str = Field(min_length=1, description="Candidate id, name or Ollama tag from the comparison table")
    rationale: str = Field(default="", max_length=4000, description="Why this model; default: its fit")
    strengths: list[str] = Field(default_factory=list, description="Expected strengths; default: fit reasons")
    concerns: list[str] = Field(default_factory=list, description="Expected concerns; default: its flags")
    ollama_tag: str | None = Field(default=None, description="Tag to pull, if not the table's first tag")


class SelectionResult(BaseModel):
    selection: Selection
    path: str

    def summary(self) -> str:
        lines = []
        for label, chosen in (("Primary", self.selection.primary), ("Backup", self.selection.backup)):
            if chosen is None:
                continue
            lines.append(f"{label}: {chosen.name} ({chosen.ollama_tag or 'no Ollama tag'}) — {chosen.rationale}")
            lines += [f"  + {s}" for s in chosen.strengths]
            lines += [f"  − {c}" for c in chosen.concerns]
        lines.append(f"Written: {self.path}")
        lines.append("Next: pull_model / check_model (CLI: pull; check).")
        return "\n".join(lines)


def _row(table: ComparisonTable, key: str, role: str) -> ComparisonRow:
    row = table.get(key)
    if row is None:
        known = ", ".join(f"{r.id} ({r.ollama_tag or 'no tag'})" for r in table.rows)
        raise ConfigError(
            f"select_model {role}: {key!r} is not in the comparison table; choose one of: {known}. "
            "To choose another model, add it with its sources (research_candidates add=[...]) and rebuild the "
            "table (build_comparison_table) first"
        )
    return row


def _selected(row: ComparisonRow, choice: Choice, role: str) -> SelectedModel:
    tag = choice.ollama_tag or row.ollama_tag
    if choice.ollama_tag is not None and not _TAG.match(choice.ollama_tag):
        raise ConfigError(
            f"select_model {role}: ollama_tag {choice.ollama_tag!r} is not a model tag like 'qwen3:8b' "
            "(letters, digits and . _ / : + - only)"
        )
    concerns = choice.concerns or list(row.flags)
    if tag is None:
        concerns.append("no Ollama tag: import a GGUF with a Modelfile, then pass its name as ollama_tag")
    place = f"ranked #{row.rank}" if row.rank else f"just outside the study's size range ({row.params})"
    rationale = choice.rationale or (
        f"{place}, overall {row.overall}; domain fit {stars_text(row.stars)} ({row.stars}/5) for the study's profile"
    )
    return SelectedModel(
        candidate_id=row.id,
        name=row.model,
        ollama_tag=tag,
        rationale=rationale,
        strengths=choice.strengths or [re.sub(r"^\+\d+\s*", "", r) for r in row.fit_reasons if r.startswith("+")],
        concerns=concerns,
    )


def select_model(study: Study, primary: Choice, backup: Choice | None = None) -> SelectionResult:
    """Check both choices against the table and store them as selection.json."""
    table = read_table(study)
    if table is None:
        raise StepNotReady(
            f"{study.paths.comparison_json}: no comparison table yet; build it first",
            Fix("build_comparison_table", cli_command(study.root, "table"), {"study": str(study.root)}),
        )
    first = _row(table, primary.candidate, "primary")
    second = _row(table, backup.candidate, "backup") if backup is not None else None
    if second is None and len(table.rows) > 1:
        raise ConfigError(
            "select_model: choose a backup too (the next-best candidate to test if the primary cannot run or "
            f"fails); candidates: {', '.join(r.id for r in table.rows if r.id != first.id)}"
        )
    if second is not None and second.id == first.id:
        raise ConfigError(f"select_model: primary and backup are both {first.id!r}; choose a different backup")
    selection = Selection(
        primary=_selected(first, primary, "primary"),
        backup=_selected(second, backup, "backup") if second is not None and backup is not None else None,
    )
    with study.locked("recording the selection"):
        study.write_json(study.paths.selection, selection)
    return SelectionResult(selection=selection, path=str(study.paths.selection))
