"""add_scenarios: supplied scenarios are validated against the taxonomy, tagged, de-duplicated, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from base_model_selector.scenarios.generate import plan_scenarios
from base_model_selector.scenarios.input import add_scenarios
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.storage import read_jsonl
from base_model_selector.study.types import Scenario
from example_studies import copy_example


@pytest.fixture
def study(tmp_path: Path) -> Study:
    copy_example("customer-support", tmp_path / "s")
    return Study.open(tmp_path / "s")


def stored(study: Study) -> list[Scenario]:
    return list(read_jsonl(study.paths.scenarios, Scenario).records)


def test_agent_scenarios_are_tagged_with_canonical_names_and_a_stable_id(study: Study) -> None:
    result = add_scenarios(
        study,
        [
            {
                "text": "why was I charged twice in May?",
                "topic": "Billing and Subscription",
                "subtopic": "unexpected or double charge",
                "style": "terse",
                "persona": "bookkeeper",
            },
            {
                "text": "Bank feed says reconnect every week",
                "topic": "bank feeds and reconciliation",
                "edge_case": "angry or abusive customer",
            },
        ],
    )
    assert len(result.added) == 2 and result.rejected == []
    first, second = stored(study)
    assert first.topic == "billing and subscription" and first.origin == "agent"
    assert second.edge_case == "angry or abusive customer"
    assert first.id == result.added[0] and first.id.startswith("s-")


def test_near_duplicates_are_rejected_within_a_batch_and_against_the_study(study: Study) -> None:
    add_scenarios(study, [{"text": "How do I put my logo on invoices?", "topic": "invoicing"}])
    result = add_scenarios(
        study,
        [
            {"text": "how do i put my logo on invoices", "topic": "invoicing"},
            {"text": "Can I export everything for my accountant?", "topic": "data export and privacy"},
            {"text": "Can I export everything for my accountant please?", "topic": "data export and privacy"},
        ],
    )
    assert len(result.added) == 1
    assert [(r.index, r.reason) for r in result.rejected] == [(0, "near-duplicate"), (2, "near-duplicate")]
    assert len(stored(study)) == 2


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param([{"text": "hi", "topic": "weather"}], "unknown topic 'weather'; known:", id="unknown-topic"),
        pytest.param([{"text": "hi", "topic": "invoicing", "style": "poetic"}], "unknown style", id="unknown-style"),
        pytest.param([{"text": "  ", "topic": "invoicing"}], "#0.text", id="blank-text"),
        pytest.param([{"text": "hi"}], "`topic` is required", id="no-topic"),
        pytest.param([{"text": "hi", "topic": "invoicing", "mood": "x"}], "#0.mood: unknown field", id="typo"),
        pytest.param([{"text": "hi", "slot": "slot-nope"}], "not in scenarios/plan.json", id="unknown-slot"),
    ],
)
def test_invalid_items_add_nothing_and_name_the_item_and_field(
    study: Study, items: list[dict[str, str]], expected: str
) -> None:
    good = {"text": "a perfectly good message about invoices", "topic": "invoicing"}
    with pytest.raises(ConfigError, match="nothing was added") as err:
        add_scenarios(study, [good, *items])
    assert expected in str(err.value).replace("#1", "#0")
    assert stored(study) == []


def test_a_scenario_can_fill_a_plan_slot_and_takes_its_tags(study: Study) -> None:
    plan = plan_scenarios(study, n=5)
    slot = plan.slots[0]
    result = add_scenarios(study, [{"text": "my invoice PDF has the wrong logo", "slot": slot.slot}])
    made = stored(study)[0]
    assert (made.slot, made.topic, made.style, made.persona) == (slot.slot, slot.topic, slot.style, slot.persona)
    again = add_scenarios(study, [{"text": "a different message entirely here", "slot": slot.slot}])
    assert again.added == [] and "already filled" in again.rejected[0].reason
    assert result.scenarios_total == 1


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param(
            "in.jsonl",
            '{"text": "refund for annual plan?", "topic": "billing and subscription"}\n\n'
            '{"text": "2fa phone lost", "topic": "account and login"}\n',
            id="jsonl",
        ),
        pytest.param(
            "in.json",
            json.dumps(
                [
                    {"text": "refund for annual plan?", "topic": "billing and subscription"},
                    {"text": "2fa phone lost", "topic": "account and login"},
                ]
            ),
            id="json",
        ),
        pytest.param(
            "in.csv",
            "text,topic,style\nrefund for annual plan?,billing and subscription,terse\n"
            '"2fa phone lost, help",account and login,\n',
            id="csv",
        ),
        pytest.param(
            "in.yaml",
            "scenarios:\n  - text: refund for annual plan?\n    topic: billing and subscription\n"
            "  - {text: 2fa phone lost, topic: account and login}\n",
            id="yaml",
        ),
    ],
)
def test_scenarios_load_from_a_file_inside_the_study(study: Study, name: str, content: str) -> None:
    (study.root / name).write_text(content, encoding="utf-8")
    result = add_scenarios(study, path=study.root / name)
    assert len(result.added) == 2
    assert {s.origin for s in stored(study)} == {"file"}
    assert stored(study)[1].style is None


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param(
            "bad.jsonl", '{"text": "a", "topic": "invoicing"}\n{oops\n', "line 2 is not valid JSON", id="jsonl-line"
        ),
        pytest.param("bad.csv", "message,topic\nhi,invoicing\n", "header row with a `text` column", id="csv-header"),
        pytest.param("bad.txt", "hello", "unknown format '.txt'", id="suffix"),
        pytest.param("bad.yaml", "text: just one\n", "expected a list of scenarios", id="yaml-not-list"),
        pytest.param("empty.json", "[]", "no scenarios given", id="empty"),
    ],
)
def test_bad_files_are_clear_errors(study: Study, name: str, content: str, expected: str) -> None:
    (study.root / name).write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        add_scenarios(study, path=study.root / name)
    assert expected in str(err.value)


def test_the_core_reads_the_file_it_is_given_wherever_it_is(study: Study, tmp_path: Path) -> None:
    """Where a caller may read from is the shell's rule (CLI: anywhere; MCP: study or working directory)."""
    (tmp_path / "outside.jsonl").write_text('{"text": "x", "topic": "invoicing"}\n', encoding="utf-8")
    assert len(add_scenarios(study, path=tmp_path / "outside.jsonl").added) == 1


def test_items_and_path_are_exclusive(study: Study) -> None:
    with pytest.raises(ConfigError, match="either `items`"):
        add_scenarios(study, [{"text": "x", "topic": "invoicing"}], path=study.root / "in.jsonl")


def test_without_a_taxonomy_tags_are_taken_as_given_with_a_warning(study: Study) -> None:
    study.paths.taxonomy_yaml.unlink()
    result = add_scenarios(study, [{"text": "anything at all", "topic": "my own topic"}])
    assert len(result.added) == 1 and "not checked" in result.warnings[0]


def test_status_shows_step_4_pending_until_the_plan_is_filled(study: Study) -> None:
    from base_model_selector.status import study_status

    def step4() -> tuple[str, str]:
        step = study_status(study).steps[3]
        return step.state, step.detail

    assert step4()[0] == "pending"
    plan = plan_scenarios(study, n=3)
    texts = ["first message about invoices", "second one about bank feeds", "third on login trouble"]
    add_scenarios(study, [{"text": texts[0], "slot": plan.slots[0].slot}])
    assert step4() == ("pending", "1/3 planned scenarios written (scenarios/scenarios.jsonl)")
    add_scenarios(study, [{"text": t, "slot": s.slot} for t, s in zip(texts[1:], plan.slots[1:], strict=True)])
    state, detail = step4()
    assert state == "done" and "3/3 planned" in detail


def test_replanning_away_from_filled_slots_warns_that_those_scenarios_stay(study: Study) -> None:
    plan = plan_scenarios(study, n=4)
    texts = ["one about refunds and money", "two about the login page", "three about bank feeds", "four on exports"]
    add_scenarios(study, [{"text": t, "slot": s.slot} for t, s in zip(texts, plan.slots, strict=True)])
    smaller = plan_scenarios(study, n=2, seed=99)
    assert any("not in this plan" in w and "delete" in w for w in smaller.warnings)
