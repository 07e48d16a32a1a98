"""What the document says about its judges and its origin: only what the decision rests on, current errors,
hashes as written, warnings where low agreement would be missed, and never another study's document."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import pytest

from assess_fixture import CANDIDATE, CRITERIA, RESPONSES, make_study, scripted_judge
from base_model_selector.decision.decide import decide
from base_model_selector.decision.report import write_decision_doc
from base_model_selector.judging.agent_judge import AgentVerdict, next_assessment_batch, record_assessments
from base_model_selector.judging.assessment import assess_responses
from base_model_selector.status import study_status
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.errors import StudyError
from decision_fixture import MODEL, write_study
from fakes import FakeOllama


def doc(study: Study) -> str:
    return study.docs_path().read_text(encoding="utf-8")


def judged(tmp_path: Path, responder=scripted_judge) -> Study:
    with FakeOllama(responder=responder, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url, extra="docs_path: docs/evaluation.md\n")
        asyncio.run(assess_responses(study, CANDIDATE))
    return study


def test_after_rejudging_errors_the_document_reports_no_stale_error(tmp_path: Path) -> None:
    """Once: 'Judge ERRORs: 0' beside a list of 9 old errors, and 'Judge errors 9' in the reliability table."""
    with FakeOllama(responder=lambda body: "not json at all", parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        asyncio.run(assess_responses(study, CANDIDATE))
        decide(study, CANDIDATE)
        write_decision_doc(study, CANDIDATE)
        broken = doc(study)
        fake.responder = scripted_judge
        asyncio.run(assess_responses(study, CANDIDATE, rejudge_errors=True))
    items = len(RESPONSES) * len(CRITERIA)
    assert f"Judge ERRORs (unusable judge replies, counted as failures): {items} — " in broken
    decision = decide(study, CANDIDATE)
    write_decision_doc(study, CANDIDATE)
    text = doc(study)
    assert decision.failures.judge_errors == 0 and decision.judge.errors == 0
    assert "Judge ERRORs (unusable judge replies, counted as failures): 0." in text
    assert "did not fit the schema" not in text
    assert "Judge errors (unusable replies, counted as failures): 0." in text
    assert f": {items} criterion verdicts by this judge" in text  # not the 80 lines of verdicts.jsonl


def test_the_notes_hash_is_that_of_the_notes_as_written(tmp_path: Path) -> None:
    """The notes.md hash was the one from before the call, or '(absent)', whenever notes were passed."""
    study = Study.open(write_study(tmp_path / "support"))
    decide(study, MODEL)
    write_decision_doc(study, MODEL, qualitative_notes="Polite, but vague on refunds.")
    written = hashlib.sha256(study.paths.notes_md.read_bytes()).hexdigest()
    assert f"| `notes.md` | {written} |" in doc(study)
    assert doc(study).rstrip().endswith(f"notes-sha256={written} -->")
    write_decision_doc(study, MODEL, qualitative_notes="Polite; vague on refunds and on exports.")
    again = hashlib.sha256(study.paths.notes_md.read_bytes()).hexdigest()
    assert again != written and f"| `notes.md` | {again} |" in doc(study)


def test_two_studies_sharing_a_docs_path_never_overwrite_each_other(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    for name in ("first", "second"):
        write_study(folder / name)
        text = (folder / name / "study.yaml").read_text(encoding="utf-8")
        (folder / name / "study.yaml").write_text(
            text.replace("docs_path: docs/base-model-evaluation.md", "docs_path: ../docs/base-model-evaluation.md")
        )
    first, second = Study.open(folder / "first"), Study.open(folder / "second")
    assert first.docs_path() == second.docs_path() == folder / "docs" / "base-model-evaluation.md"
    for study in (first, second):
        decide(study, MODEL)
    write_decision_doc(first, MODEL)
    mine = doc(first)
    with pytest.raises(StudyError) as info:
        write_decision_doc(second, MODEL)
    assert f"belongs to the study {first.root}" in str(info.value) and "set docs_path" in str(info.value)
    assert doc(first) == mine, "nothing was written"
    write_decision_doc(first, MODEL)  # a study re-renders its own document
    state, detail = (lambda s: (s.state, s.detail))(study_status(second, MODEL).steps[7])
    assert state == "pending" and "belongs to the study" in detail


def test_init_keeps_the_default_docs_location(tmp_path: Path) -> None:
    init_study(tmp_path / "s", domain="coding help")
    assert Study.open(tmp_path / "s").docs_path() == (tmp_path / "docs" / "base-model-evaluation.md").resolve()


def test_low_agreement_is_warned_in_the_tool_result_the_status_and_the_document(tmp_path: Path) -> None:
    study = judged(tmp_path)
    batch = next_assessment_batch(study, CANDIDATE, k=20)
    record_assessments(
        study,
        [AgentVerdict(item_id=i, reasoning="I disagree.", answer="NO") for r in batch.responses for i in r.item_ids],
        CANDIDATE,
    )
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        yaml = study.paths.study_yaml
        yaml.write_text(re.sub(r"hosts: \['[^']*'\]", f"hosts: ['{fake.url}']", yaml.read_text()))
        result = asyncio.run(assess_responses(Study.open(study.root), CANDIDATE))
        assert fake.chat_count == 0
    [agreement] = result.outcome.agreements
    assert agreement.kappa is not None and agreement.kappa < 0.6
    assert "Warning: low judge agreement: agent:default vs llm:" in result.summary()
    assert any("low judge agreement" in w for w in study_status(study, CANDIDATE).warnings)
    decide(study, CANDIDATE)
    write_decision_doc(study, CANDIDATE)
    text = doc(study)
    assert "> **Warning:** low judge agreement: agent:default vs llm:" in text
    assert (
        "| agent:default | 20 | the 20 items agent:default judged, in next_assessment_batch's seeded random order |"
        in text
    )


def test_the_minimum_kappa_is_configurable(tmp_path: Path) -> None:
    study = judged(tmp_path)
    yaml = study.paths.study_yaml
    yaml.write_text(yaml.read_text().replace("judge:\n", "judge:\n  min_kappa: -1\n"))
    study = Study.open(study.root)
    batch = next_assessment_batch(study, CANDIDATE, k=20)
    result = record_assessments(
        study,
        [AgentVerdict(item_id=i, reasoning="I disagree.", answer="NO") for r in batch.responses for i in r.item_ids],
        CANDIDATE,
    )
    assert result.outcome is not None and [a.warning for a in result.outcome.agreements] == [None]
