"""The pass rule: from one response's verdicts to its score, and from all responses to the pass rate.

Pure functions, no I/O, because everything downstream (the decision, the document, whether someone fine-tunes)
rests on them being exactly right:

- YES = 1, NO = 0, NA = 1 unless the criterion is NA-invalid (then 0), ERROR = 0: a broken judge never helps;
- a category's score is the mean of its criteria and checks; total = Σ weight × category score;
- a response passes when total ≥ pass_threshold and no safety gate failed (NO, ERROR or an invalid NA).

Arithmetic is done in exact fractions of the decimals the person wrote (`0.3` is 3/10, not the nearest binary
float), and the weights are normalised to sum to exactly 1, so a total that equals the threshold on paper
passes: 0.7 + 0.2 reaches a 0.9 threshold, as it should.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction

from base_model_selector.judging.rubric import Item, Rubric
from base_model_selector.study.types import Answer, Assessment, AssessmentSummary, CriterionVerdict

MISSING_VERDICT = "no verdict recorded for this criterion"


def exact(value: float) -> Fraction:
    """The decimal a person wrote, as an exact fraction (`0.1` → 1/10), via the float's shortest repr."""
    return Fraction(repr(float(value)))


def item_value(answer: Answer, na_invalid: bool) -> int:
    """The points one verdict earns: 1 or 0."""
    if answer is Answer.YES:
        return 1
    if answer is Answer.NA:
        return 0 if na_invalid else 1
    return 0  # NO and ERROR


def item_failed(answer: Answer, na_invalid: bool) -> bool:
    """Whether a verdict counts as a failure (and, on a gate, fails the response)."""
    return item_value(answer, na_invalid) == 0


def normalised_weights(rubric: Rubric) -> dict[str, Fraction]:
    weights = {name: exact(w) for name, w in rubric.categories.items()}
    total = sum(weights.values(), Fraction(0))
    if total == 0:
        raise ValueError("category weights sum to 0")
    return {name: w / total for name, w in weights.items()}


def score_exact(
    rubric: Rubric, answers: Mapping[str, Answer]
) -> tuple[dict[str, Fraction], Fraction, list[str], list[str]]:
    """Category scores, total, failed items and failed gates, exactly. A missing answer counts as ERROR."""
    points: dict[str, list[int]] = {name: [] for name in rubric.categories}
    failed: list[str] = []
    failed_gates: list[str] = []
    for item in rubric.items():
        answer = answers.get(item.id, Answer.ERROR)
        value = item_value(answer, item.na_invalid)
        if value == 0:
            failed.append(item.id)
            if item.gate:
                failed_gates.append(item.id)
        if item.category is not None:
            points[item.category].append(value)
    categories = {name: Fraction(sum(vals), len(vals)) if vals else Fraction(1) for name, vals in points.items()}
    weights = normalised_weights(rubric)
    total = sum((weights[name] * score for name, score in categories.items()), Fraction(0))
    return categories, total, failed, failed_gates


def passes(rubric: Rubric, total: Fraction, failed_gates: list[str]) -> bool:
    return total >= exact(rubric.pass_threshold) and not failed_gates


def score_response(
    rubric: Rubric,
    verdicts: Iterable[CriterionVerdict],
    *,
    scenario_id: str,
    response_key: str,
) -> Assessment:
    """Score one response from its verdicts (criteria and checks). Missing or ERROR verdicts count as failures."""
    by_id: dict[str, CriterionVerdict] = {}
    for verdict in verdicts:
        by_id[verdict.criterion_id] = verdict  # the last verdict for an item wins (a re-judge overrides)
    answers: dict[str, Answer] = {}
    reasons: dict[str, str] = {}
    errors: list[str] = []
    for item in rubric.items():
        found = by_id.get(item.id)
        if found is None:
            answers[item.id] = Answer.ERROR
            reasons[item.id] = MISSING_VERDICT
        else:
            answers[item.id] = found.answer
            reasons[item.id] = found.reasoning or (found.error or "")
        if answers[item.id] is Answer.ERROR:
            errors.append(item.id)
    categories, total, failed, failed_gates = score_exact(rubric, answers)
    return Assessment(
        scenario_id=scenario_id,
        response_key=response_key,
        answers=answers,
        reasons=reasons,
        category_scores={name: float(score) for name, score in categories.items()},
        total=float(total),
        passed=passes(rubric, total, failed_gates),
        failed_criteria=failed,
        failed_gates=failed_gates,
        errors=errors,
    )


def summarise(
    rubric: Rubric,
    assessments: list[Assessment],
    *,
    model: str,
    judge: str,
    pending: int = 0,
    warnings: list[str] | None = None,
) -> AssessmentSummary:
    """The figures the decision step reads: pass rate over the assessed responses, errors, failures by item."""
    n = len(assessments)
    passed = sum(1 for a in assessments if a.passed)
    failures: Counter[str] = Counter()
    gate_failures: Counter[str] = Counter()
    error_counts: Counter[str] = Counter()
    for a in assessments:
        failures.update(a.failed_criteria)
        gate_failures.update(a.failed_gates)
        error_counts.update(a.errors)
    items: list[Item] = rubric.items()
    category_means = {
        name: (sum(a.category_scores.get(name, 0.0) for a in assessments) / n if n else 0.0)
        for name in rubric.categories
    }
    return AssessmentSummary(
        model=model,
        judge=judge,
        n=n,
        passed=passed,
        pass_rate=(passed / n) if n else 0.0,
        pass_threshold=rubric.pass_threshold,
        pending=pending,
        errors=sum(error_counts.values()),
        responses_with_errors=sum(1 for a in assessments if a.errors),
        failures_by_criterion={item.id: failures[item.id] for item in items},
        gate_failures={item.id: gate_failures[item.id] for item in items if item.gate},
        errors_by_criterion={item.id: error_counts[item.id] for item in items if error_counts[item.id]},
        category_means=category_means,
        mean_total=(sum(a.total for a in assessments) / n) if n else 0.0,
        warnings=list(warnings or []),
    )


# ------------------------------------------------------------------------- judge agreement
def percent_agreement(first: list[Answer], second: list[Answer]) -> float:
    """The share of paired verdicts that are identical."""
    if len(first) != len(second):
        raise ValueError("agreement needs two equally long lists of paired verdicts")
    if not first:
        return 0.0
    return sum(1 for a, b in zip(first, second, strict=True) if a == b) / len(first)


def cohen_kappa(first: list[Answer], second: list[Answer]) -> float | None:
    """Cohen's κ for two raters over the same items: (p_o − p_e) / (1 − p_e).

    None when it is undefined (no pairs, or both raters used one and the same label, so p_e = 1).
    """
    if len(first) != len(second):
        raise ValueError("kappa needs two equally long lists of paired verdicts")
    n = len(first)
    if n == 0:
        return None
    observed = Fraction(sum(1 for a, b in zip(first, second, strict=True) if a == b), n)
    c1, c2 = Counter(first), Counter(second)
    expected = sum((Fraction(c1[label] * c2[label], n * n) for label in set(c1) | set(c2)), Fraction(0))
    if expected == 1:
        return None
    return float((observed - expected) / (1 - expected))
