"""The decision rule and its statistics: Wilson bounds, the bands at their edges, and when a result is inconclusive."""

from __future__ import annotations

import pytest

from base_model_selector.decision.decide import Band, band_for, judge_verdict, make_decision, pass_rate
from base_model_selector.decision.failures import CriterionInfo, analyse_failures, recurring
from base_model_selector.study import stats
from base_model_selector.study.config import Thresholds
from base_model_selector.study.errors import StepNotReady
from base_model_selector.study.types import Answer, Assessment, BaselineResponse, CriterionVerdict, Scenario

DEFAULT = Thresholds()


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Published values: Wilson (1927) as tabulated by Newcombe (1998) and Brown, Cai & DasGupta (2001).
        pytest.param(81, 263, 0.2553, 0.3662, id="newcombe-81-of-263"),
        pytest.param(15, 148, 0.0624, 0.1605, id="newcombe-15-of-148"),
        pytest.param(0, 20, 0.0, 0.1611, id="newcombe-0-of-20"),
        pytest.param(1, 29, 0.0061, 0.1718, id="newcombe-1-of-29"),
        pytest.param(5, 10, 0.2366, 0.7634, id="half-of-10"),
        pytest.param(0, 10, 0.0, 0.2775, id="p0-n10"),
        pytest.param(10, 10, 0.7225, 1.0, id="p1-n10"),
        pytest.param(0, 1, 0.0, 0.7935, id="p0-n1"),
        pytest.param(1, 1, 0.2065, 1.0, id="p1-n1"),
        pytest.param(3, 3, 0.4385, 1.0, id="p1-n3"),
        pytest.param(50, 50, 0.9287, 1.0, id="p1-n50"),
        pytest.param(35, 50, 0.5625, 0.8090, id="70-percent-of-50"),
    ],
)
def test_wilson_interval_matches_published_values(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = stats.wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def test_wilson_interval_is_exact_at_the_edges_and_vacuous_without_data() -> None:
    assert stats.wilson_interval(0, 7)[0] == 0.0
    assert stats.wilson_interval(7, 7)[1] == 1.0
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(3, 2)


@pytest.mark.parametrize(
    ("rate", "band"),
    [
        pytest.param(0.70, Band.LIKELY_SUFFICIENT, id="exactly-0.70-is-sufficient"),
        pytest.param(0.6999, Band.FINE_TUNE, id="just-below-0.70-is-fine-tune"),
        pytest.param(0.50, Band.FINE_TUNE, id="exactly-0.50-is-fine-tune"),
        pytest.param(0.4999, Band.FULL_PIPELINE, id="just-below-0.50-is-full-pipeline"),
        pytest.param(1.0, Band.LIKELY_SUFFICIENT, id="all-pass"),
        pytest.param(0.0, Band.FULL_PIPELINE, id="none-pass"),
    ],
)
def test_bands_put_a_rate_exactly_on_a_threshold_in_the_upper_band(rate: float, band: Band) -> None:
    assert band_for(rate, DEFAULT) is band


@pytest.mark.parametrize(
    ("passed", "n", "band"),
    [
        pytest.param(35, 50, Band.LIKELY_SUFFICIENT, id="35-of-50"),
        pytest.param(25, 50, Band.FINE_TUNE, id="25-of-50"),
        pytest.param(7, 10, Band.LIKELY_SUFFICIENT, id="7-of-10"),
        pytest.param(1, 2, Band.FINE_TUNE, id="1-of-2"),
    ],
)
def test_integer_counts_landing_on_a_threshold_take_the_upper_band(passed: int, n: int, band: Band) -> None:
    assert judge_verdict(pass_rate(passed, n), DEFAULT).band is band


def test_a_clear_result_is_conclusive() -> None:
    verdict = judge_verdict(pass_rate(48, 50), DEFAULT)  # 96%, interval ~86–99%
    assert verdict.band is Band.LIKELY_SUFFICIENT
    assert not verdict.inconclusive
    assert verdict.plausible_bands == [Band.LIKELY_SUFFICIENT]
    assert verdict.settle_total is None


def test_an_interval_crossing_a_threshold_is_inconclusive_with_the_scenarios_that_would_settle_it() -> None:
    verdict = judge_verdict(pass_rate(30, 50), DEFAULT)  # 60%, interval ~46–72%: crosses both cut-offs
    assert verdict.band is Band.FINE_TUNE
    assert verdict.inconclusive
    assert verdict.crossed_thresholds == [0.5, 0.7]
    assert verdict.plausible_bands == [Band.FULL_PIPELINE, Band.FINE_TUNE, Band.LIKELY_SUFFICIENT]
    assert verdict.settle_total == 97
    assert verdict.settle_more == 47
    low, high = stats.wilson_interval(0.6 * 97, 97)
    assert low >= 0.5 and high < 0.7
    low, high = stats.wilson_interval(0.6 * 96, 96)
    assert low < 0.5 or high >= 0.7
    assert "97 scenarios in total (47 more)" in verdict.settle_note


def test_a_rate_exactly_on_a_threshold_can_never_settle() -> None:
    verdict = judge_verdict(pass_rate(35, 50), DEFAULT)
    assert verdict.band is Band.LIKELY_SUFFICIENT and verdict.inconclusive
    assert verdict.settle_total is None and verdict.settle_more is None
    assert "exactly on the 70% threshold" in verdict.settle_note


def test_a_rate_a_hair_above_a_threshold_is_called_borderline_not_given_an_impractical_count() -> None:
    verdict = judge_verdict(pass_rate(12, 17), DEFAULT)  # 70.6%: only ~23,000 scenarios would settle it
    assert verdict.inconclusive
    assert verdict.settle_total is not None and verdict.settle_total > stats.PRACTICAL_SETTLE_N
    assert "borderline" in verdict.settle_note and "70% threshold" in verdict.settle_note
    assert "more) would settle it" not in verdict.settle_note


def test_all_passing_on_a_handful_of_scenarios_is_inconclusive() -> None:
    verdict = judge_verdict(pass_rate(3, 3), DEFAULT)  # 100%, but the interval reaches down to 44%
    assert verdict.band is Band.LIKELY_SUFFICIENT and verdict.inconclusive
    assert verdict.settle_total == 9


@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 0.45, 0.49, 0.52, 0.55, 0.6, 0.62, 0.68, 0.72, 0.8, 0.95, 1.0])
def test_settle_search_agrees_with_a_linear_scan(p: float) -> None:
    cuts = [0.5, 0.7]

    def first_settling(n: int) -> int:
        while True:
            low, high = stats.wilson_interval(p * n, n)
            if not stats.crossed_thresholds(low, high, cuts):
                return n
            n += 1

    assert stats.scenarios_to_settle(p, 10, cuts).total == first_settling(10)


def test_settle_search_gives_up_at_its_bound_and_says_so() -> None:
    estimate = stats.scenarios_to_settle(0.7001, 50, [0.5, 0.7], limit=10_000)
    assert estimate.total is None
    assert "10,000 scenarios" in estimate.reason


def test_custom_thresholds_move_the_bands() -> None:
    strict = Thresholds(sufficient=0.9, fine_tune=0.6)
    assert band_for(0.85, strict) is Band.FINE_TUNE
    assert band_for(0.9, strict) is Band.LIKELY_SUFFICIENT


# ------------------------------------------------------------------------------------------------ failure analysis
def _scenario(i: int, topic: str, style: str = "terse", edge: str | None = None) -> Scenario:
    return Scenario(id=f"s{i}", text=f"message number {i}", topic=topic, style=style, edge_case=edge)


def _response(i: int, truncated: bool = False) -> BaselineResponse:
    return BaselineResponse(
        key=f"r{i}", scenario_id=f"s{i}", model="m:1", text=f"reply {i} " * 5, latency_s=1.0 + i, truncated=truncated
    )


def _assessment(i: int, answers: dict[str, Answer], failed: list[str], gates: list[str] = ()) -> Assessment:
    reasons = {
        cid: f"the reply to {i} ignores the refund policy" if a is Answer.NO else "ok" for cid, a in answers.items()
    }
    return Assessment(
        scenario_id=f"s{i}",
        response_key=f"r{i}",
        answers=answers,
        reasons=reasons,
        category_scores={"quality": 0.0 if failed else 1.0},
        total=0.0 if failed else 1.0,
        passed=not failed,
        failed_criteria=failed,
        failed_gates=list(gates),
        errors=[c for c, a in answers.items() if a is Answer.ERROR],
    )


def test_failure_analysis_counts_by_criterion_category_and_taxonomy_cell() -> None:
    Y, N, E = Answer.YES, Answer.NO, Answer.ERROR
    scenarios = [_scenario(1, "billing"), _scenario(2, "billing", "chatty"), _scenario(3, "login", edge="crisis")]
    responses = [_response(1), _response(2, truncated=True), _response(3)]
    assessments = [
        _assessment(1, {"CQ1": N, "SAFE1": Y}, ["CQ1"]),
        _assessment(2, {"CQ1": N, "SAFE1": E}, ["CQ1", "SAFE1"], ["SAFE1"]),
        _assessment(3, {"CQ1": Y, "SAFE1": Y}, []),
    ]
    verdicts = [
        CriterionVerdict(
            key="v",
            scenario_id="s2",
            response_key="r2",
            criterion_id="SAFE1",
            answer=E,
            judge="llm:j",
            error="bad JSON",
        )
    ]
    rubric = {
        "CQ1": CriterionInfo("quality", "Does it follow policy?"),
        "SAFE1": CriterionInfo("safety", "Safe?", True),
    }
    analysis = analyse_failures(assessments, scenarios, responses, verdicts, rubric, {"quality": 1.0})

    cq1, safe1 = analysis.criteria
    assert (cq1.criterion_id, cq1.failures, cq1.assessed, cq1.errors) == ("CQ1", 2, 3, 0)
    assert cq1.rate == pytest.approx(2 / 3)
    assert (cq1.recurring_phrases[0].text, cq1.recurring_phrases[0].count) == ("ignores the refund policy", 2)
    assert [e.scenario_id for e in cq1.examples] == ["s1", "s2"]
    assert (safe1.failures, safe1.errors, safe1.gate) == (1, 1, True)
    assert analysis.gate_failures[0].text == "SAFE1" and analysis.gate_failures[0].count == 1
    assert analysis.judge_errors == 1
    assert analysis.judge_error_examples[0].text == "SAFE1: bad JSON"
    assert analysis.truncated == ["s2"] and analysis.truncated_failed == 1
    by = {(g.dimension, g.value): (g.assessed, g.failed) for g in analysis.groups}
    assert by[("topic", "billing")] == (2, 2)
    assert by[("topic", "login")] == (1, 0)
    assert by[("edge_case", "crisis")] == (1, 0)
    assert by[("style", "chatty")] == (1, 1)
    assert analysis.categories[0].category == "quality" and analysis.categories[0].responses_below_full == 2


def test_recurring_reasons_find_shared_phrases_across_reasons() -> None:
    exact, phrases = recurring(
        [
            "Does not mention the refund window.",
            "does not mention the refund window",
            "Never mentions the refund window and is curt",
        ]
    )
    assert exact[0].text == "does not mention the refund window" and exact[0].count == 2
    assert phrases[0].text == "refund window" and phrases[0].count == 3


def test_decision_from_records_reports_the_pass_rate_and_warns_about_unassessed_scenarios() -> None:
    Y, N = Answer.YES, Answer.NO
    scenarios = [_scenario(i, "t") for i in range(1, 5)]
    assessments = [_assessment(1, {"C": Y}, []), _assessment(2, {"C": N}, ["C"]), _assessment(3, {"C": Y}, [])]
    decision = make_decision("m:1", assessments, scenarios, [_response(i) for i in range(1, 4)], [], DEFAULT)
    assert (decision.pass_rate.passed, decision.pass_rate.assessed) == (2, 3)
    assert decision.scenarios == 4
    assert any("1 of 4 scenarios are not assessed" in w for w in decision.warnings)
    assert decision.run.latency_p50_s == 3.0 and decision.run.responses == 3
    assert "2/3 passed" in decision.summary()


def test_deciding_without_assessments_names_the_step_to_run() -> None:
    with pytest.raises(StepNotReady, match="assess"):
        make_decision("m:1", [], [], [], [], DEFAULT)


def test_a_candidate_judging_itself_is_flagged() -> None:
    verdict = CriterionVerdict(
        key="v", scenario_id="s1", response_key="r1", criterion_id="C", answer=Answer.YES, judge="llm:m:1"
    )
    decision = make_decision(
        "m:1", [_assessment(1, {"C": Answer.YES}, [])], [_scenario(1, "t")], [_response(1)], [verdict], DEFAULT
    )
    assert decision.judge.self_judged
    assert any("self-preference" in w for w in decision.warnings)
