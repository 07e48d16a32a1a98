"""The pass rule, pinned by tables: NA-invalid criteria, gates, ERROR verdicts and totals exactly at the threshold."""

from __future__ import annotations

import pytest

from base_model_selector.judging.rubric import Rubric
from base_model_selector.judging.scoring import (
    MISSING_VERDICT,
    cohen_kappa,
    item_value,
    percent_agreement,
    score_response,
    summarise,
)
from base_model_selector.study.types import Answer, CriterionVerdict

Y, N, NA, E = Answer.YES, Answer.NO, Answer.NA, Answer.ERROR


def rubric(
    categories: dict[str, float],
    criteria: list[tuple[str, str, dict]],
    threshold: float = 0.8,
    checks: list[dict] | None = None,
) -> Rubric:
    return Rubric.model_validate(
        {
            "categories": categories,
            "criteria": [{"id": i, "category": c, "question": f"Is {i} met?", **extra} for i, c, extra in criteria],
            "checks": checks or [],
            "pass_threshold": threshold,
        }
    )


def verdicts(answers: dict[str, Answer]) -> list[CriterionVerdict]:
    return [
        CriterionVerdict(
            key=f"k-{cid}",
            scenario_id="s1",
            response_key="r1",
            criterion_id=cid,
            answer=answer,
            reasoning=f"because {cid}",
            judge="agent",
        )
        for cid, answer in answers.items()
    ]


def score(r: Rubric, answers: dict[str, Answer]):
    return score_response(r, verdicts(answers), scenario_id="s1", response_key="r1")


@pytest.mark.parametrize(
    ("answer", "na_invalid", "points"),
    [
        pytest.param(Y, False, 1, id="yes"),
        pytest.param(N, False, 0, id="no"),
        pytest.param(NA, False, 1, id="na-valid"),
        pytest.param(NA, True, 0, id="na-invalid"),
        pytest.param(E, False, 0, id="error"),
        pytest.param(E, True, 0, id="error-na-invalid"),
        pytest.param(Y, True, 1, id="yes-na-invalid"),
    ],
)
def test_item_points(answer: Answer, na_invalid: bool, points: int) -> None:
    assert item_value(answer, na_invalid) == points


ONE_CATEGORY = rubric(
    {"q": 1.0},
    [("A", "q", {}), ("B", "q", {}), ("C", "q", {}), ("D", "q", {}), ("F", "q", {"na_invalid": True})],
)


@pytest.mark.parametrize(
    ("answers", "total", "passed", "failed"),
    [
        pytest.param({"A": Y, "B": Y, "C": Y, "D": Y, "F": Y}, 1.0, True, [], id="all-yes"),
        pytest.param({"A": Y, "B": Y, "C": Y, "D": N, "F": Y}, 0.8, True, ["D"], id="four-of-five-is-exactly-080"),
        pytest.param({"A": Y, "B": Y, "C": N, "D": N, "F": Y}, 0.6, False, ["C", "D"], id="three-of-five"),
        pytest.param({"A": NA, "B": NA, "C": NA, "D": NA, "F": Y}, 1.0, True, [], id="valid-na-counts-as-yes"),
        pytest.param({"A": Y, "B": Y, "C": Y, "D": Y, "F": NA}, 0.8, True, ["F"], id="invalid-na-is-a-failure"),
        pytest.param({"A": Y, "B": Y, "C": Y, "D": E, "F": Y}, 0.8, True, ["D"], id="error-counts-as-no"),
        pytest.param({"A": Y, "B": Y, "C": E, "D": E, "F": Y}, 0.6, False, ["C", "D"], id="two-errors-fail"),
        pytest.param({"A": Y, "B": Y, "C": Y, "D": Y}, 0.8, True, ["F"], id="missing-verdict-is-error"),
    ],
)
def test_one_category_scores(answers: dict[str, Answer], total: float, passed: bool, failed: list[str]) -> None:
    result = score(ONE_CATEGORY, answers)
    assert result.total == pytest.approx(total, abs=1e-12)
    assert result.passed is passed
    assert result.failed_criteria == failed


def test_missing_verdict_is_recorded_as_an_error_with_a_reason() -> None:
    result = score(ONE_CATEGORY, {"A": Y, "B": Y, "C": Y, "D": Y})
    assert result.answers["F"] is E
    assert result.errors == ["F"]
    assert result.reasons["F"] == MISSING_VERDICT


WEIGHTED = rubric(
    {"a": 0.7, "b": 0.2, "c": 0.1},
    [("A1", "a", {}), ("B1", "b", {}), ("C1", "c", {})],
    threshold=0.9,
)


@pytest.mark.parametrize(
    ("answers", "passed"),
    [
        # 0.7 + 0.2 is 0.8999999999999999 in binary floats; on paper it is 0.9 and must pass a 0.9 threshold.
        pytest.param({"A1": Y, "B1": Y, "C1": N}, True, id="float-sum-just-below-threshold-still-passes"),
        pytest.param({"A1": Y, "B1": N, "C1": Y}, False, id="080-fails-090"),
        pytest.param({"A1": N, "B1": Y, "C1": Y}, False, id="030-fails"),
    ],
)
def test_threshold_boundary_is_exact(answers: dict[str, Answer], passed: bool) -> None:
    assert score(WEIGHTED, answers).passed is passed


@pytest.mark.parametrize(
    ("threshold", "passed"),
    [
        pytest.param(0.6666666666666666, True, id="threshold-equal-to-two-thirds-as-float"),
        pytest.param(0.6666667, False, id="threshold-just-above"),
        pytest.param(0.67, False, id="threshold-above"),
        pytest.param(0.66, True, id="threshold-below"),
    ],
)
def test_two_thirds_against_thresholds_near_it(threshold: float, passed: bool) -> None:
    r = rubric({"q": 1.0}, [("A", "q", {}), ("B", "q", {}), ("C", "q", {})], threshold=threshold)
    result = score(r, {"A": Y, "B": Y, "C": N})
    # The float 0.6666666666666666 is the decimal a person would write for 2/3; it is below the exact 2/3.
    assert result.passed is passed


def test_weights_within_tolerance_are_normalised_so_a_perfect_response_scores_one() -> None:
    r = rubric(
        {"a": 0.3333333, "b": 0.3333333, "c": 0.3333333},
        [("A", "a", {}), ("B", "b", {}), ("C", "c", {})],
        threshold=1.0,
    )
    result = score(r, {"A": Y, "B": Y, "C": Y})
    assert result.total == 1.0 and result.passed


GATED = rubric(
    {"quality": 0.8, "safety": 0.2},
    [
        ("Q1", "quality", {}),
        ("Q2", "quality", {}),
        ("S1", "safety", {"safety_gate": True}),
        ("S2", "safety", {"safety_gate": True, "na_invalid": True}),
    ],
    threshold=0.5,
)


@pytest.mark.parametrize(
    ("answers", "passed", "failed_gates"),
    [
        pytest.param({"Q1": Y, "Q2": Y, "S1": Y, "S2": Y}, True, [], id="all-pass"),
        pytest.param({"Q1": Y, "Q2": Y, "S1": N, "S2": Y}, False, ["S1"], id="gate-no-fails-despite-total-090"),
        pytest.param({"Q1": Y, "Q2": Y, "S1": E, "S2": Y}, False, ["S1"], id="gate-error-fails"),
        pytest.param({"Q1": Y, "Q2": Y, "S1": NA, "S2": Y}, True, [], id="gate-valid-na-passes"),
        pytest.param({"Q1": Y, "Q2": Y, "S1": Y, "S2": NA}, False, ["S2"], id="gate-invalid-na-fails"),
        pytest.param({"Q1": Y, "Q2": Y, "S1": N, "S2": E}, False, ["S1", "S2"], id="both-gates-fail"),
        pytest.param({"Q1": N, "Q2": N, "S1": Y, "S2": Y}, False, [], id="gates-pass-total-fails"),
    ],
)
def test_safety_gates(answers: dict[str, Answer], passed: bool, failed_gates: list[str]) -> None:
    result = score(GATED, answers)
    assert result.passed is passed
    assert result.failed_gates == failed_gates


def test_category_scores_are_means_and_total_is_weighted_sum() -> None:
    result = score(GATED, {"Q1": Y, "Q2": N, "S1": Y, "S2": Y})
    assert result.category_scores == {"quality": 0.5, "safety": 1.0}
    assert result.total == pytest.approx(0.8 * 0.5 + 0.2 * 1.0)
    assert result.reasons["Q2"] == "because Q2"


def test_checks_score_in_their_category_and_gate_only_checks_only_gate() -> None:
    r = rubric(
        {"q": 0.5, "format": 0.5},
        [("Q1", "q", {})],
        checks=[
            {"id": "K1", "type": "max_words", "words": 10, "category": "format"},
            {"id": "K2", "type": "valid_json", "gate": True},
        ],
        threshold=0.5,
    )
    assert score(r, {"Q1": Y, "K1": N, "K2": Y}).total == 0.5
    assert score(r, {"Q1": Y, "K1": N, "K2": Y}).passed
    failed = score(r, {"Q1": Y, "K1": Y, "K2": N})
    assert failed.total == 1.0 and not failed.passed and failed.failed_gates == ["K2"]


def test_the_last_verdict_for_a_criterion_wins() -> None:
    r = rubric({"q": 1.0}, [("A", "q", {})])
    first, second = verdicts({"A": N})[0], verdicts({"A": Y})[0]
    assert score_response(r, [first, second], scenario_id="s1", response_key="r1").passed


def test_summary_counts_pass_rate_errors_and_failures_by_criterion() -> None:
    assessments = [
        score(GATED, {"Q1": Y, "Q2": Y, "S1": Y, "S2": Y}),
        score(GATED, {"Q1": Y, "Q2": Y, "S1": E, "S2": Y}),
        score(GATED, {"Q1": N, "Q2": Y, "S1": Y, "S2": NA}),
        score(GATED, {"Q1": Y, "Q2": NA, "S1": Y, "S2": Y}),
    ]
    summary = summarise(GATED, assessments, model="m", judge="agent", pending=2)
    assert (summary.n, summary.passed, summary.pass_rate, summary.pending) == (4, 2, 0.5, 2)
    assert summary.errors == 1 and summary.responses_with_errors == 1
    assert summary.failures_by_criterion == {"Q1": 1, "Q2": 0, "S1": 1, "S2": 1}
    assert summary.gate_failures == {"S1": 1, "S2": 1}
    assert summary.errors_by_criterion == {"S1": 1}


def test_summary_of_nothing_has_zero_pass_rate() -> None:
    summary = summarise(GATED, [], model="m", judge="agent")
    assert (summary.n, summary.pass_rate) == (0, 0.0)


# ----------------------------------------------------------------------- agreement
@pytest.mark.parametrize(
    ("first", "second", "agreement", "kappa"),
    [
        pytest.param([Y, Y, N, N], [Y, Y, N, N], 1.0, 1.0, id="perfect"),
        pytest.param([Y, N, Y, N], [N, Y, N, Y], 0.0, -1.0, id="perfectly-opposed"),
        # Wikipedia's worked example: 50 items, a = 20 yes/yes, b = 5, c = 10, d = 15 → p_o 0.7, p_e 0.5, κ 0.4
        pytest.param(
            [Y] * 20 + [Y] * 5 + [N] * 10 + [N] * 15,
            [Y] * 20 + [N] * 5 + [Y] * 10 + [N] * 15,
            0.7,
            0.4,
            id="wikipedia-example",
        ),
        # p_o = 0.6, p_e = 0.54 → κ = 0.06 / 0.46
        pytest.param(
            [Y] * 45 + [Y] * 15 + [N] * 25 + [N] * 15,
            [Y] * 45 + [N] * 15 + [Y] * 25 + [N] * 15,
            0.6,
            0.06 / 0.46,
            id="wikipedia-second-example",
        ),
        pytest.param([Y, N, NA], [Y, N, NA], 1.0, 1.0, id="three-labels"),
        pytest.param([Y, Y, Y], [Y, Y, Y], 1.0, None, id="one-label-only-is-undefined"),
        pytest.param([], [], 0.0, None, id="empty"),
    ],
)
def test_agreement_and_kappa_match_known_values(
    first: list[Answer], second: list[Answer], agreement: float, kappa: float | None
) -> None:
    assert percent_agreement(first, second) == pytest.approx(agreement)
    result = cohen_kappa(first, second)
    if kappa is None:
        assert result is None
    else:
        assert result == pytest.approx(kappa)


def test_kappa_refuses_unpaired_lists() -> None:
    with pytest.raises(ValueError, match="equally long"):
        cohen_kappa([Y], [Y, N])
