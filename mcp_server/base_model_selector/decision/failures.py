"""Failure analysis: where and why the base model fails, computed from the judged records only.

A pass rate says how often; a fine-tuning plan needs to know *what* fails and *for which inputs*. This module
groups the scored assessments by criterion, category and taxonomy cell, collects the judge's recurring reasons,
counts judge ERRORs and truncated responses separately (they are failures of the measurement, not necessarily of
the model), and picks a few representative failures as evidence. Pure functions over the step records in
`types.py`; which answer counts as a failure is decided by the scoring step (`Assessment.failed_criteria`), never
re-derived here.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import Field

from base_model_selector.study.types import Answer, Assessment, BaselineResponse, CriterionVerdict, Record, Scenario
from base_model_selector.study.untrusted import clean

EXCERPT_CHARS = 400
EXAMPLES_PER_CRITERION = 3
WORST_CRITERIA = 3
_WORD = re.compile(r"[a-z0-9']+")
_STOP_WORDS = (
    "a an the and or but of to in on for with as at by from is are was were be been being it its this that these "
    "those there their they them he she his her you your i we our not no yes does do did has have had so than then "
    "which who whom what when where why how response user assistant model answer criterion"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class CriterionInfo:
    """What the rubric says about a criterion (or deterministic check), as far as failure analysis needs it."""

    category: str | None = None
    question: str = ""
    gate: bool = False


class Count(Record):
    text: str
    count: int


class FailureExample(Record):
    scenario_id: str
    topic: str | None = None
    scenario: str = Field(description="The user message (excerpt)")
    response: str = Field(description="The model's response (excerpt)")
    answer: Answer
    reasoning: str = Field(description="The judge's reasoning for this verdict")


class CriterionFailures(Record):
    criterion_id: str
    category: str | None = None
    question: str = ""
    gate: bool = False
    assessed: int
    failures: int
    rate: float = Field(description="failures / assessed")
    errors: int = Field(description="Verdicts that were ERROR (counted among the failures)")
    recurring_reasons: list[Count] = Field(default_factory=list, description="Judge reasons given more than once")
    recurring_phrases: list[Count] = Field(default_factory=list, description="Word sequences recurring in reasons")
    examples: list[FailureExample] = Field(default_factory=list)


class CategoryStat(Record):
    category: str
    weight: float | None = None
    mean_score: float
    responses_below_full: int = Field(description="Responses whose score in this category is below 1")
    assessed: int


class GroupStat(Record):
    """Pass/fail counts for one value of a taxonomy dimension (or one whole cell)."""

    dimension: str = Field(description="topic, style, edge_case or cell")
    value: str
    assessed: int
    failed: int
    rate: float = Field(description="Failure rate: failed / assessed")


class FailureAnalysis(Record):
    criteria: list[CriterionFailures] = Field(description="Worst first")
    categories: list[CategoryStat]
    groups: list[GroupStat] = Field(description="By topic, style, edge case and whole cell; worst first per dimension")
    gate_failures: list[Count] = Field(description="Responses failed by each safety gate")
    judge_errors: int
    judge_error_examples: list[Count] = Field(default_factory=list, description="criterion: error message, counted")
    truncated: list[str] = Field(default_factory=list, description="Scenario IDs whose response hit the length limit")
    truncated_failed: int = 0


def normalise(reason: str) -> str:
    return " ".join(_WORD.findall(reason.lower()))


def recurring(reasons: Sequence[str], top: int = 3) -> tuple[list[Count], list[Count]]:
    """The normalised reasons given more than once, and the 2–4-word phrases shared by several reasons."""
    exact = Counter(n for n in (normalise(r) for r in reasons) if n)
    reasons_out = [Count(text=t, count=c) for t, c in sorted(exact.items(), key=lambda kv: (-kv[1], kv[0])) if c > 1]
    phrases: Counter[str] = Counter()
    for reason in reasons:
        words = _WORD.findall(reason.lower())
        seen: set[str] = set()
        for size in (4, 3, 2):
            for i in range(len(words) - size + 1):
                gram = words[i : i + size]
                if gram[0] in _STOP or gram[-1] in _STOP:
                    continue
                seen.add(" ".join(gram))
        phrases.update(seen)  # once per reason: "recurring" means across reasons
    picked: list[Count] = []
    for text, count in sorted(phrases.items(), key=lambda kv: (-kv[1], -len(kv[0].split()), kv[0])):
        if count < 2 or len(picked) >= top:
            break
        if any(text in p.text for p in picked):  # a shorter piece of a phrase already chosen
            continue
        picked.append(Count(text=text, count=count))
    return reasons_out[:top], picked


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Untrusted text (a scenario, a reply, a judge's reasoning) as one clean line, cut at a word near `limit`."""
    text = " ".join(clean(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _groups(assessments: Sequence[Assessment], scenarios: Mapping[str, Scenario]) -> list[GroupStat]:
    tallies: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for a in assessments:
        sc = scenarios.get(a.scenario_id)
        if sc is None:
            continue
        cell = " / ".join(x for x in (sc.topic, sc.subtopic, sc.style, sc.edge_case) if x)
        for dim, value in (
            ("topic", sc.topic),
            ("style", sc.style or "(none)"),
            ("edge_case", sc.edge_case or "(none)"),
            ("cell", cell),
        ):
            tally = tallies[(dim, value)]
            tally[0] += 1
            tally[1] += 0 if a.passed else 1
    order = {"topic": 0, "style": 1, "edge_case": 2, "cell": 3}
    stats = [
        GroupStat(dimension=d, value=v, assessed=n, failed=f, rate=_rate(f, n)) for (d, v), (n, f) in tallies.items()
    ]
    return sorted(stats, key=lambda g: (order[g.dimension], -g.rate, -g.failed, g.value))


def _pick_examples(candidates: list[FailureExample]) -> list[FailureExample]:
    """Up to three failures, spread over different topics, preferring real NO/NA verdicts over judge ERRORs."""
    ranked = sorted(candidates, key=lambda e: (e.answer == Answer.ERROR, e.scenario_id))
    chosen: list[FailureExample] = []
    topics: set[str | None] = set()
    for example in ranked:
        if example.topic not in topics:
            chosen.append(example)
            topics.add(example.topic)
        if len(chosen) == EXAMPLES_PER_CRITERION:
            return chosen
    for example in ranked:
        if example not in chosen and len(chosen) < EXAMPLES_PER_CRITERION:
            chosen.append(example)
    return chosen


def analyse_failures(
    assessments: Sequence[Assessment],
    scenarios: Iterable[Scenario],
    responses: Iterable[BaselineResponse],
    verdicts: Iterable[CriterionVerdict] = (),
    rubric: Mapping[str, CriterionInfo] | None = None,
    weights: Mapping[str, float] | None = None,
) -> FailureAnalysis:
    """Group every failure by criterion, category and taxonomy cell; keep judge errors and truncations apart."""
    rubric = rubric or {}
    by_scenario = {s.id: s for s in scenarios}
    by_response = {r.key: r for r in responses}
    reasoning = {(v.response_key, v.criterion_id): v for v in verdicts}

    criterion_ids = sorted({c for a in assessments for c in a.answers} | set(rubric))
    criteria: list[CriterionFailures] = []
    for cid in criterion_ids:
        info = rubric.get(cid, CriterionInfo())
        judged = [a for a in assessments if cid in a.answers]
        failed = [a for a in judged if cid in a.failed_criteria or cid in a.failed_gates]
        reasons, examples = [], []
        for a in failed:
            answer = a.answers[cid]
            verdict = reasoning.get((a.response_key, cid))
            why = a.reasons.get(cid) or (verdict.reasoning if verdict else "") or ""
            if answer == Answer.ERROR and verdict is not None and verdict.error:
                why = why or f"judge error: {verdict.error}"
            if answer != Answer.ERROR and why:
                reasons.append(why)
            sc = by_scenario.get(a.scenario_id)
            resp = by_response.get(a.response_key)
            examples.append(
                FailureExample(
                    scenario_id=a.scenario_id,
                    topic=sc.topic if sc else None,
                    scenario=excerpt(sc.text, 300) if sc else "(scenario not found)",
                    response=excerpt(resp.text) if resp else "(response not found)",
                    answer=answer,
                    reasoning=excerpt(why, 600) if why else "(no reasoning recorded)",
                )
            )
        exact, phrases = recurring(reasons)
        criteria.append(
            CriterionFailures(
                criterion_id=cid,
                category=info.category,
                question=info.question,
                gate=info.gate or any(cid in a.failed_gates for a in assessments),
                assessed=len(judged),
                failures=len(failed),
                rate=_rate(len(failed), len(judged)),
                errors=sum(1 for a in judged if a.answers[cid] == Answer.ERROR),
                recurring_reasons=exact,
                recurring_phrases=phrases,
                examples=_pick_examples(examples),
            )
        )
    criteria.sort(key=lambda c: (-c.rate, -c.failures, c.criterion_id))
    worst = {c.criterion_id for c in criteria[:WORST_CRITERIA] if c.failures}
    for c in criteria:
        if c.criterion_id not in worst:
            c.examples = []

    categories = []
    for name in sorted({k for a in assessments for k in a.category_scores} | set(weights or {})):
        scores = [a.category_scores[name] for a in assessments if name in a.category_scores]
        categories.append(
            CategoryStat(
                category=name,
                weight=(weights or {}).get(name),
                mean_score=sum(scores) / len(scores) if scores else 0.0,
                responses_below_full=sum(1 for s in scores if s < 1 - 1e-9),
                assessed=len(scores),
            )
        )

    gates = Counter(g for a in assessments for g in set(a.failed_gates))
    errors: Counter[str] = Counter()
    for v in verdicts:
        if v.answer == Answer.ERROR:
            errors[f"{v.criterion_id}: {excerpt(v.error or 'unusable judge reply', 160)}"] += 1
    truncated = sorted(
        a.scenario_id for a in assessments if (r := by_response.get(a.response_key)) is not None and r.truncated
    )
    truncated_failed = sum(
        1 for a in assessments if (r := by_response.get(a.response_key)) is not None and r.truncated and not a.passed
    )
    return FailureAnalysis(
        criteria=criteria,
        categories=categories,
        groups=_groups(assessments, by_scenario),
        gate_failures=[Count(text=g, count=c) for g, c in sorted(gates.items(), key=lambda kv: (-kv[1], kv[0]))],
        judge_errors=sum(1 for a in assessments for ans in a.answers.values() if ans == Answer.ERROR),
        judge_error_examples=[Count(text=t, count=c) for t, c in errors.most_common(5)],
        truncated=truncated,
        truncated_failed=truncated_failed,
    )
