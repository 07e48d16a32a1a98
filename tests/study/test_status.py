"""Status is derived from the files alone: what is done, what is pending, and what went stale and why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from base_model_selector.research.candidates import research_candidates
from base_model_selector.status import study_status
from base_model_selector.study.directory import Study, init_study


def researched_study(tmp_path: Path) -> Study:
    init_study(tmp_path / "s", domain="empathetic coaching", size_min=7, size_max=10)
    study = Study.open(tmp_path / "s")
    asyncio.run(research_candidates(study, search=False))
    return study


def edit(study: Study, old: str, new: str) -> Study:
    text = study.paths.study_yaml.read_text()
    assert old in text, old
    study.paths.study_yaml.write_text(text.replace(old, new, 1))
    return Study.open(study.root)


def step1(study: Study) -> tuple[str, str]:
    step = study_status(study).steps[0]
    return step.state, step.detail


def test_a_new_study_has_every_step_pending_and_research_next(tmp_path: Path) -> None:
    init_study(tmp_path / "s", domain="coding help")
    status = study_status(Study.open(tmp_path / "s"))
    assert [s.state for s in status.steps] == ["pending"] * 8
    assert status.next_step == 1 and "research_candidates" in status.next_action


def test_research_is_done_and_the_next_action_is_the_table(tmp_path: Path) -> None:
    study = researched_study(tmp_path)
    state, detail = step1(study)
    assert state == "done" and "candidates" in detail
    assert study_status(study).next_step == 2


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("  sufficient: 0.70", "  sufficient: 0.80", id="thresholds"),
        pytest.param("  n: 50", "  n: 30", id="scenario-count"),
        pytest.param("  temperature: 0.7", "  temperature: 0.2", id="generation"),
    ],
)
def test_edits_that_do_not_affect_research_leave_it_done(tmp_path: Path, old: str, new: str) -> None:
    study = edit(researched_study(tmp_path), old, new)
    assert step1(study)[0] == "done"


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        pytest.param("  max: 10", "  max: 14", "size_max_b 10.0 → 14.0", id="size"),
        pytest.param("commercial_use: true", "commercial_use: false", "commercial_use True → False", id="licence"),
        pytest.param("max_turns: 1", "max_turns: 20", "longest_input_tokens 400 → 8000", id="context"),
        pytest.param('domain: "empathetic coaching"', 'domain: "SQL analysis"', "domain", id="domain"),
    ],
)
def test_changing_what_research_was_for_makes_it_stale_and_names_the_change(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    study = edit(researched_study(tmp_path), old, new)
    state, detail = step1(study)
    assert state == "stale"
    assert named in detail
    assert study_status(study).next_step == 1 and "re-run" in study_status(study).next_action


# ------------------------------------------------------------------------------------------------ steps 6 to 8
def _step(study: Study, model: str, number: int) -> tuple[str, str]:
    step = study_status(study, model).steps[number - 1]
    return step.state, step.detail


def test_switching_the_judge_makes_step_six_pending_and_the_decision_and_document_stale(tmp_path: Path) -> None:
    """After judge.mode moved to agent, status once still said all steps were done."""
    from assess_fixture import CANDIDATE, make_study, scripted_judge
    from base_model_selector.decision.decide import decide
    from base_model_selector.decision.report import write_decision_doc
    from base_model_selector.judging.agent_judge import AgentVerdict, next_assessment_batch, record_assessments
    from base_model_selector.judging.assessment import assess_responses
    from fakes import FakeOllama

    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        asyncio.run(assess_responses(study, CANDIDATE))
    decide(study, CANDIDATE)
    write_decision_doc(study, CANDIDATE)
    assert [_step(study, CANDIDATE, n)[0] for n in (6, 7, 8)] == ["done", "done", "done"]

    study = edit(study, "judge:\n", "judge:\n  mode: agent\n")
    state, detail = _step(study, CANDIDATE, 6)
    assert state == "pending" and "0 of 40 items judged by agent:default" in detail and "rests on llm:" in detail
    assert [_step(study, CANDIDATE, n)[0] for n in (7, 8)] == ["stale", "stale"]

    batch = next_assessment_batch(study, CANDIDATE, k=200)
    items = [i for r in batch.responses for i in r.item_ids]
    record_assessments(study, [AgentVerdict(item_id=i, reasoning="Fine.", answer="YES") for i in items], CANDIDATE)
    assert _step(study, CANDIDATE, 6)[0] == "done"
    state, detail = _step(study, CANDIDATE, 7)
    assert state == "stale" and "assessments.json" in detail
    assert _step(study, CANDIDATE, 8)[0] == "stale", "a document on a stale decision is stale too"
    decide(study, CANDIDATE)
    assert [_step(study, CANDIDATE, n)[0] for n in (7, 8)] == ["done", "stale"]
    write_decision_doc(study, CANDIDATE)
    assert _step(study, CANDIDATE, 8)[0] == "done"
    study.paths.notes_md.write_text("## Qualitative notes\nWarm.\n", encoding="utf-8")
    state, detail = _step(study, CANDIDATE, 8)
    assert state == "stale" and "notes.md" in detail


def test_changing_the_judge_settings_or_the_rubric_makes_step_six_stale_or_pending(tmp_path: Path) -> None:
    from assess_fixture import CANDIDATE, make_study, scripted_judge
    from base_model_selector.judging.assessment import assess_responses
    from fakes import FakeOllama

    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        asyncio.run(assess_responses(study, CANDIDATE))
    assert _step(study, CANDIDATE, 6)[0] == "done"
    seeded = edit(study, "judge:\n", "judge:\n  seed: 8\n")
    state, detail = _step(seeded, CANDIDATE, 6)
    assert state == "stale" and "settings changed" in detail
    seeded = edit(seeded, "  seed: 8\n", "")
    assert _step(seeded, CANDIDATE, 6)[0] == "done"
    rubric = seeded.paths.rubric_yaml
    rubric.write_text(rubric.read_text().replace("Is the tone polite", "Is the tone warm"))
    state, detail = _step(seeded, CANDIDATE, 6)
    assert state == "stale" and "re-run assess" in detail
