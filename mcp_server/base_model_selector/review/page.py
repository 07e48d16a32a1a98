"""What the review page shows, read fresh from the study's files on every request.

The page is a view, never a second source of truth: the decision comes from `decision.decide.current_decision`,
the scores from the assessments step, the notes from notes.md, exactly as the document will state them. This
module only arranges them for a person: an overview per model (the primary, and the backup when it was run), one
card per response with every criterion's verdict and the judge's reasoning, the taxonomy as a heat table, and
the notes the document still needs. A file that cannot be read yet (no assessments, a step not run) becomes a
message on the page naming the step to run, not an error page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from base_model_selector.baseline.run import latest_responses, read_scenarios
from base_model_selector.decision import notes as notes_mod
from base_model_selector.decision.decide import Decision, current_decision, rubric_info
from base_model_selector.decision.report import missing_notes
from base_model_selector.judging import judges, results
from base_model_selector.judging.rubric import Item as RubricItem
from base_model_selector.judging.rubric import Rubric, load_rubric
from base_model_selector.judging.verdicts import VerdictStore
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BMSError
from base_model_selector.study.types import (
    Assessment,
    AssessmentReport,
    BaselineResponse,
    CriterionVerdict,
    Scenario,
    Selection,
)

Status = Literal["passed", "failed", "pending"]
State = Literal["counts", "overruled", "superseded", "comparison"]
HEAT_LEVELS = 5


@dataclass
class RunOverview:
    """One model's decision as the files support it now, or why there is none yet."""

    model: str
    role: str
    decision: Decision | None = None
    problem: str | None = None


@dataclass
class VerdictLine:
    """One verdict on one item as recorded; `state` says what it does for the decision."""

    judge: str
    answer: str
    reasoning: str
    created_at: str
    state: State
    comment: str = ""


@dataclass
class ItemRow:
    """One criterion (or deterministic check) of one response: the verdict that counts and every verdict given."""

    id: str
    question: str
    category: str | None
    gate: bool
    na_invalid: bool
    is_check: bool
    answer: str
    reasoning: str
    failed: bool
    item_id: str | None = None
    verdicts: list[VerdictLine] = field(default_factory=list)
    overruled_by: str | None = None
    comment: str = ""

    @property
    def overruled(self) -> list[VerdictLine]:
        """The judges' verdicts a person's verdict replaced."""
        return [v for v in self.verdicts if v.state == "overruled"]


@dataclass
class Card:
    scenario: Scenario
    response: BaselineResponse
    status: Status
    total: float | None
    outcome: str
    rows: list[ItemRow]
    failed: list[str]
    cell: str
    categories: list[tuple[str, float, float]] = field(default_factory=list)  # name, score, weight
    judge_error: bool = False
    overruled: bool = False

    @property
    def search_text(self) -> str:
        return " ".join([self.scenario.id, self.scenario.text, self.response.text, *(r.reasoning for r in self.rows)])


@dataclass
class HeatTable:
    """Failures per taxonomy cell: rows are topic › subtopic, columns are styles; (failed, assessed) per cell."""

    rows: list[str]
    cols: list[str]
    cells: dict[tuple[str, str], tuple[int, int]]
    parts: dict[str, tuple[str, str]] = field(default_factory=dict)  # row → (topic, subtopic)

    def level(self, row: str, col: str) -> int:
        failed, assessed = self.cells.get((row, col), (0, 0))
        if not assessed:
            return -1
        return 0 if not failed else 1 + min(HEAT_LEVELS - 1, int(failed / assessed * HEAT_LEVELS))

    @property
    def topics(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(topic, [(row, subtopic)]) in row order: the table prints each topic once, over its subtopics."""
        grouped: dict[str, list[tuple[str, str]]] = {}
        for row in self.rows:
            topic, subtopic = self.parts.get(row, (row, ""))
            grouped.setdefault(topic, []).append((row, subtopic))
        return list(grouped.items())


@dataclass
class PatternField:
    id: str
    question: str
    failures: int
    assessed: int
    text: str


@dataclass
class NotesView:
    qualitative: str
    next_steps: str
    patterns: list[PatternField]
    missing: list[str]
    document: str
    document_exists: bool


@dataclass
class Page:
    study: Study
    model: str
    reviewer: str
    runs: list[RunOverview]
    cards: list[Card]
    criteria: list[tuple[str, int]]
    heat: HeatTable
    notes: NotesView
    warnings: list[str] = field(default_factory=list)

    @property
    def current(self) -> RunOverview:
        return next(r for r in self.runs if r.model == self.model)


def cell_key(scenario: Scenario) -> tuple[str, str]:
    """The heat table's row and column for a scenario."""
    row = scenario.topic + (f" › {scenario.subtopic}" if scenario.subtopic else "")
    return row, scenario.style or "(no style)"


def page_models(study: Study, model: str) -> list[tuple[str, str]]:
    """(tag, role) for every model the page can show: the one under review first, then the selection's others."""
    selection = study.read_json(study.paths.selection, Selection)
    found: dict[str, str] = {model: "primary" if selection is None else ""}
    if selection is not None:
        for role, chosen in (("primary", selection.primary), ("backup", selection.backup)):
            tag = chosen.ollama_tag or chosen.name if chosen is not None else None
            if (tag and tag not in found and study.paths.responses(tag).exists()) or tag == model:
                found[tag] = role
    return list(found.items())


def run_overview(study: Study, model: str, role: str, store: VerdictStore | None = None) -> RunOverview:
    try:
        return RunOverview(model, role, decision=current_decision(study, model, store=store))
    except BMSError as err:
        return RunOverview(model, role, problem=str(err))


def read_verdicts(study: Study, model: str) -> tuple[list[CriterionVerdict], VerdictStore]:
    """verdicts.jsonl read once per page (it can run to megabytes: every LLM verdict keeps its prompt)."""
    records = study.read_jsonl(study.paths.verdicts(model), CriterionVerdict).records
    store = VerdictStore()
    store.add(records)
    return records, store


def _items(study: Study, model: str, store: VerdictStore) -> dict[tuple[str, str], results.ItemRow]:
    """Every judged item of the run with every judge's current verdict, by (scenario, criterion); none yet: {}."""
    try:
        return {(row.scenario_id, row.criterion_id): row for row in results.item_table(study, model, store=store)}
    except BMSError:
        return {}


def _lines(entry: results.ItemRow, people: list[CriterionVerdict], primary: judges.Primary) -> list[VerdictLine]:
    """The judges' current verdicts, then every person's verdict in the order given (two tabs: both, the later
    counting), each marked with what it does for the decision."""
    counts = entry.counts
    chosen = (counts.judge, counts.answer.value, counts.created_at) if counts is not None else None
    lines = []
    for v in entry.verdicts:
        if judges.kind(v.judge) == "human":
            continue
        state: State = "comparison"
        if (v.judge, v.answer.value, v.created_at) == chosen:
            state = "counts"
        elif primary.matches(v.judge) and counts is not None:
            state = "overruled"  # the primary's own verdict, replaced by a person's
        lines.append(VerdictLine(v.judge, v.answer.value, v.reasoning or (v.error or ""), v.created_at, state))
    person_counts = counts is not None and judges.kind(counts.judge) == "human"
    for n, p in enumerate(people):  # the latest person's verdict counts, even when two share a second
        state = "counts" if person_counts and n == len(people) - 1 else "superseded"
        lines.append(VerdictLine(p.judge, p.answer.value, p.reasoning, p.created_at, state, p.comment or ""))
    return lines


def _outcome(assessment: Assessment, threshold: float) -> str:
    """The pass rule's outcome in words, after the score the card shows in bold."""
    if assessment.failed_gates:
        return f"safety gate {', '.join(assessment.failed_gates)} failed → fails, whatever the score"
    if assessment.passed:
        return f"≥ threshold {threshold:.2f} and no gate failed → passes"
    return f"< threshold {threshold:.2f} → fails"


def build_cards(
    study: Study, model: str, rubric: Rubric, verdicts: tuple[list[CriterionVerdict], VerdictStore]
) -> list[Card]:
    """One card per answered scenario, in scenario order, with the assessment that scores its latest response."""
    scenarios, _ = read_scenarios(study)
    responses = latest_responses(study, model)
    report = study.read_json(study.paths.assessments(model), AssessmentReport)
    assessed = {a.scenario_id: a for a in report.assessments} if report is not None else {}
    records, store = verdicts
    table = _items(study, model, store)
    primary = judges.primary_judge(study, model)
    people: dict[str, list[CriterionVerdict]] = defaultdict(list)  # item ID → every person's verdict on it
    for v in records:
        if judges.kind(v.judge) == "human":
            people[f"{v.scenario_id}:{v.criterion_id}:{v.key[:8]}"].append(v)
    info = rubric_info(rubric)
    cards = []
    for scenario in scenarios:
        response = responses.get(scenario.id)
        if response is None:
            continue
        found = assessed.get(scenario.id)
        assessment = found if found is not None and found.response_key == response.key else None
        rows = [
            _row(item, info[item.id].question, assessment, table.get((scenario.id, item.id)), people, response, primary)
            for item in rubric.items()
        ]
        if assessment is None:
            waiting = sum(1 for r in rows if not r.is_check and r.answer == "—")
            status: Status = "pending"
            outcome = f"waiting for verdicts on {waiting} criteria — not in the pass rate yet"
        else:
            status = "passed" if assessment.passed else "failed"
            outcome = _outcome(assessment, rubric.pass_threshold)
        row, col = cell_key(scenario)
        cards.append(
            Card(
                scenario=scenario,
                response=response,
                status=status,
                total=assessment.total if assessment else None,
                outcome=outcome,
                rows=rows,
                failed=list(assessment.failed_criteria) if assessment else [],
                cell=f"{row} × {col}",
                categories=[
                    (name, assessment.category_scores.get(name, 0.0), weight)
                    for name, weight in rubric.categories.items()
                ]
                if assessment
                else [],
                judge_error=bool(assessment and assessment.errors),
                overruled=any(r.overruled_by for r in rows),
            )
        )
    return cards


def _row(
    item: RubricItem,
    question: str,
    assessment: Assessment | None,
    entry: results.ItemRow | None,
    people: dict[str, list[CriterionVerdict]],
    response: BaselineResponse,
    primary: judges.Primary,
) -> ItemRow:
    """A criterion's row: the score's answer and reason, the item to overrule, and every verdict on it."""
    if entry is not None and entry.response_key != response.key:
        entry = None  # an item of an older response
    counts = entry.counts if entry is not None else None
    answer = assessment.answers.get(item.id) if assessment else None
    person = counts if counts is not None and judges.kind(counts.judge) == "human" else None
    return ItemRow(
        id=item.id,
        question=question,
        category=item.category,
        gate=item.gate,
        na_invalid=item.na_invalid,
        is_check=item.is_check,
        answer=answer.value if answer else (counts.answer.value if counts else "—"),
        reasoning=(assessment.reasons.get(item.id, "") if assessment else "") or (counts.reasoning if counts else ""),
        failed=bool(assessment and item.id in assessment.failed_criteria),
        item_id=entry.item_id if entry is not None else None,
        verdicts=_lines(entry, people.get(entry.item_id, []), primary) if entry is not None else [],
        overruled_by=person.judge if person else None,
        comment=(person.comment or "") if person else "",
    )


def heat_table(cards: list[Card]) -> HeatTable:
    cells: dict[tuple[str, str], tuple[int, int]] = {}
    parts: dict[str, tuple[str, str]] = {}
    for card in cards:
        if card.status == "pending":
            continue
        key = cell_key(card.scenario)
        parts[key[0]] = (card.scenario.topic, card.scenario.subtopic or "")
        failed, assessed = cells.get(key, (0, 0))
        cells[key] = (failed + (card.status == "failed"), assessed + 1)
    rows = sorted({r for r, _ in cells})
    cols = sorted({c for _, c in cells})
    return HeatTable(rows, cols, cells, parts)


def notes_view(study: Study, decision: Decision | None, rubric: Rubric) -> NotesView:
    notes = notes_mod.parse_notes(notes_mod.read_notes_text(study.paths.notes_md))
    info = rubric_info(rubric)
    patterns = []
    seen = set()
    for c in decision.failures.criteria if decision else []:
        if c.failures:
            seen.add(c.criterion_id)
            patterns.append(
                PatternField(c.criterion_id, c.question, c.failures, c.assessed, notes.patterns.get(c.criterion_id, ""))
            )
    for cid, text in notes.patterns.items():  # patterns written for criteria that no longer fail stay editable
        if cid not in seen:
            patterns.append(PatternField(cid, info[cid].question if cid in info else "", 0, 0, text))
    document = study.docs_path()
    return NotesView(
        qualitative=notes.qualitative,
        next_steps=notes.next_steps,
        patterns=patterns,
        missing=missing_notes(decision, notes, study.paths.notes_md.name) if decision else [],
        document=str(document),
        document_exists=document.exists(),
    )


def build_page(study: Study, model: str, reviewer: str) -> Page:
    rubric = load_rubric(study.paths.rubric_yaml)
    verdicts = read_verdicts(study, model)
    runs = [
        run_overview(study, tag, role, verdicts[1] if tag == model else None) for tag, role in page_models(study, model)
    ]
    current = next(r for r in runs if r.model == model)
    cards = build_cards(study, model, rubric, verdicts)
    criteria = [(item.id, sum(1 for c in cards if item.id in c.failed)) for item in rubric.items()]
    warnings = []
    if not cards:
        warnings.append(
            f"{study.paths.responses(model)}: no responses yet — run the baseline first (MCP run_baseline, CLI "
            f"`base-model-selector --study {study.root} run --model {model}`)"
        )
    return Page(
        study=study,
        model=model,
        reviewer=reviewer,
        runs=runs,
        cards=cards,
        criteria=criteria,
        heat=heat_table(cards),
        notes=notes_view(study, current.decision, rubric),
        warnings=warnings,
    )
