"""The stratified scenario plan: coverage, proportions, determinism, and bad input."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from base_model_selector.scenarios.plan import MAX_N, apportion, make_plan
from base_model_selector.scenarios.taxonomy import Taxonomy, load_taxonomy
from base_model_selector.study.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = ["empathetic-coaching", "customer-support", "sql-analyst"]


def taxonomy(**data: object) -> Taxonomy:
    base: dict[str, object] = {
        "topics": [
            {"name": "billing", "weight": 3, "subtopics": ["refunds", "invoices"]},
            {"name": "login", "subtopics": ["password", "2fa"]},
            {"name": "export", "subtopics": ["csv"]},
        ]
    }
    base.update(data)
    return Taxonomy.model_validate(base)


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_plan_of_50_covers_every_topic_style_and_the_edge_case_share(example: str) -> None:
    tax = load_taxonomy(EXAMPLES / example / "taxonomy.yaml")
    plan = make_plan(tax, 50, 13)
    assert len(plan.slots) == 50
    assert {s.topic for s in plan.slots} == {t.name for t in tax.topics}
    assert {s.style for s in plan.slots} == {s.name for s in tax.styles}
    assert {s.edge_case for s in plan.slots if s.edge_case} == {e.name for e in tax.edge_cases}
    edge = sum(1 for s in plan.slots if s.edge_case)
    assert edge == plan.edge_case_n == math.floor(50 * tax.share + 0.5)
    assert len({s.slot for s in plan.slots}) == 50
    assert plan.coverage.topics == (len(tax.topics), len(tax.topics))
    assert plan.warnings == []


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_n_to_cover_all_really_covers_every_cell(example: str) -> None:
    tax = load_taxonomy(EXAMPLES / example / "taxonomy.yaml")
    small = make_plan(tax, 50, 13)
    assert small.coverage.cells_covered < small.coverage.cells_total
    full = make_plan(tax, small.coverage.n_to_cover_all, 13)
    assert full.coverage.cells_covered == full.coverage.cells_total
    assert full.coverage.edge_cases[0] == full.coverage.edge_cases[1]


def test_plan_is_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    tax = load_taxonomy(EXAMPLES / "customer-support" / "taxonomy.yaml")
    first = make_plan(tax, 50, 13)
    again = make_plan(tax, 50, 13)
    other = make_plan(tax, 50, 14)
    assert [s.model_dump() for s in first.slots] == [s.model_dump() for s in again.slots]
    assert [s.model_dump() for s in first.slots] != [s.model_dump() for s in other.slots]


def test_topic_counts_follow_the_weights() -> None:
    plan = make_plan(taxonomy(), 50, 1)
    counts = Counter(s.topic for s in plan.slots)
    assert counts == {"billing": 30, "login": 10, "export": 10}


def test_every_subtopic_and_style_gets_a_slot_once_n_allows() -> None:
    plan = make_plan(taxonomy(), 5, 1)
    assert plan.coverage.subtopics == (5, 5)
    assert plan.coverage.styles == (3, 3)


def test_a_larger_plan_keeps_almost_every_slot_of_a_smaller_one() -> None:
    tax = load_taxonomy(EXAMPLES / "sql-analyst" / "taxonomy.yaml")
    small = {s.slot for s in make_plan(tax, 50, 13).slots}
    large = {s.slot for s in make_plan(tax, 60, 13).slots}
    assert len(small & large) >= 45


@pytest.mark.parametrize(
    ("n", "message"),
    [
        pytest.param(0, "at least 1", id="zero"),
        pytest.param(-5, "at least 1", id="negative"),
        pytest.param(MAX_N + 1, "above the cap", id="absurd"),
    ],
)
def test_bad_n_is_a_clear_error(n: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_plan(taxonomy(), n, 1)


def test_n_too_small_for_the_taxonomy_warns_and_says_what_n_would_do() -> None:
    tax = taxonomy(edge_cases=[{"name": "off-topic"}, {"name": "angry"}, {"name": "non-English"}], edge_case_share=0.2)
    plan = make_plan(tax, 2, 1)
    assert len(plan.slots) == 2
    text = " ".join(plan.warnings)
    assert "too small to cover all 3 topics" in text and "n ≥" in text
    assert "too small to cover all 3 edge cases" in text
    assert "wide 95% interval" in text
    assert "Warning:" in plan.summary()


def test_one_scenario_plan_is_allowed() -> None:
    plan = make_plan(taxonomy(), 1, 1)
    assert len(plan.slots) == 1 and plan.slots[0].topic == "billing"


def test_personas_are_spread_over_the_plan() -> None:
    tax = taxonomy(personas=[{"name": "owner", "weight": 2}, "developer", "bookkeeper"])
    counts = Counter(s.persona for s in make_plan(tax, 40, 1).slots)
    assert counts == {"owner": 20, "developer": 10, "bookkeeper": 10}


def test_edge_cases_pair_only_with_their_allowed_topics_and_styles() -> None:
    tax = taxonomy(edge_cases=[{"name": "very long", "styles": ["detailed"], "topics": ["login"]}], edge_case_share=0.5)
    edge = [s for s in make_plan(tax, 20, 1).slots if s.edge_case]
    assert len(edge) == 10
    assert {(s.topic, s.style) for s in edge} == {("login", "detailed")}


@pytest.mark.parametrize(
    ("total", "weights", "minimums", "expected"),
    [
        pytest.param(10, [1, 1, 1], [0, 0, 0], [4, 3, 3], id="remainder-to-tiebreak"),
        pytest.param(10, [8, 1, 1], [2, 2, 2], [6, 2, 2], id="minimums-then-proportional"),
        pytest.param(7, [0.5, 0.25, 0.25], [0, 0, 0], [3, 2, 2], id="largest-remainder"),
    ],
)
def test_apportion(total: int, weights: list[float], minimums: list[int], expected: list[int]) -> None:
    assert apportion(total, weights, minimums, [0.0, 1.0, 2.0]) == expected
