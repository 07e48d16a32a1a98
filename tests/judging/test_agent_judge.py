"""The agent as judge over MCP and the CLI: batches, validated verdicts, and the same scores as the LLM path."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mcp import Client
from typer.testing import CliRunner

from assess_fixture import CANDIDATE, CRITERIA, EXPECTED_PASSED, RESPONSES, intended, make_study, scripted_judge
from base_model_selector.cli import app
from base_model_selector.judging.agent_judge import (
    AgentVerdict,
    VerdictsRejected,
    next_assessment_batch,
    record_assessments,
)
from base_model_selector.judging.assessment import assess_responses
from base_model_selector.server import build_server
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import AssessmentReport
from fakes import FakeOllama
from shells import run_tool

UNREACHABLE = "http://127.0.0.1:9"  # the agent path never calls a model server


def scores(study) -> list[tuple]:
    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text())
    return [
        (a.scenario_id, a.answers, a.category_scores, a.total, a.passed, a.failed_criteria, a.failed_gates)
        for a in report.assessments
    ]


def answer_for(item: dict) -> dict:
    return {
        "item_id": item["item_id"],
        "reasoning": f"Judged {item['criterion_id']} by hand.",
        "answer": intended(item["response"], item["criterion_id"]),
    }


@pytest.mark.anyio
async def test_agent_verdicts_recorded_over_mcp_score_the_same_as_the_llm_path(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        llm_study = make_study(tmp_path / "llm", fake.url)
        await assess_responses(llm_study, CANDIDATE)
    agent_study = make_study(tmp_path / "agent", UNREACHABLE, extra="  mode: agent\n")
    study = str(agent_study.root)
    async with Client(build_server()) as client:
        recorded = 0
        while True:
            batch = await client.call_tool("next_assessment_batch", {"study": study, "model": CANDIDATE, "k": 7})
            assert not batch.is_error, batch.content
            items = batch.structured_content["items"]
            if not items:
                break
            assert items[0]["question"]
            result = await client.call_tool(
                "record_assessments",
                {"study": study, "model": CANDIDATE, "verdicts": [answer_for(i) for i in items]},
            )
            assert not result.is_error, result.content
            recorded += len(items)
        assert recorded == len(RESPONSES) * len(CRITERIA)
        final = await client.call_tool("assess_responses", {"study": study, "model": CANDIDATE})
        assert not final.is_error, final.content
    outcome = final.structured_content["outcome"]
    assert (outcome["n"], outcome["passed"], outcome["judge"]) == (len(RESPONSES), EXPECTED_PASSED, "agent")
    assert scores(agent_study) == scores(llm_study)


def test_the_first_batch_carries_the_question_examples_and_untrusted_notice(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    batch = next_assessment_batch(study, CANDIDATE, k=3)
    assert batch.pending == len(RESPONSES) * len(CRITERIA)
    first = batch.items[0]
    assert (first.scenario_id, first.criterion_id, first.na_invalid) == ("s00", "CQ1", True)
    assert [e.type for e in first.calibration_examples] == ["PASS", "FAIL"]
    assert "untrusted" in batch.instructions and batch.system_prompt == "You are the support assistant."


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        pytest.param(lambda v: v.update(item_id="s00:CQ1:deadbeef"), "unknown item_id", id="unknown-item"),
        pytest.param(lambda v: v.update(answer="MAYBE"), "use YES, NO or NA", id="bad-answer"),
        pytest.param(lambda v: v.update(answer="ERROR"), "use YES, NO or NA", id="error-is-not-for-agents"),
        pytest.param(lambda v: v.update(reasoning="  "), "reasoning is empty", id="no-reasoning"),
    ],
)
def test_invalid_agent_verdicts_are_rejected_and_nothing_is_recorded(tmp_path: Path, mutate, problem: str) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    items = next_assessment_batch(study, CANDIDATE, k=3).items
    verdicts = [answer_for(i.model_dump()) for i in items]
    mutate(verdicts[1])
    with pytest.raises(VerdictsRejected, match=problem) as info:
        record_assessments(study, [AgentVerdict.model_validate(v) for v in verdicts], CANDIDATE)
    assert "verdicts[1]" in str(info.value) and "nothing was recorded" in str(info.value)
    assert not study.paths.verdicts(CANDIDATE).exists()


def test_a_verdict_given_twice_in_one_batch_is_rejected(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    item = next_assessment_batch(study, CANDIDATE, k=1).items[0]
    verdict = AgentVerdict.model_validate(answer_for(item.model_dump()))
    with pytest.raises(VerdictsRejected, match="given twice"):
        record_assessments(study, [verdict, verdict], CANDIDATE)


def test_lowercase_answers_are_accepted_and_rerecording_replaces(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    item = next_assessment_batch(study, CANDIDATE, k=1).items[0]
    first = record_assessments(study, [AgentVerdict(item_id=item.item_id, reasoning="r", answer="no")], CANDIDATE)
    again = record_assessments(study, [AgentVerdict(item_id=item.item_id, reasoning="r", answer="YES")], CANDIDATE)
    assert (first.recorded, first.replaced, again.replaced) == (1, 0, 1)
    assert first.pending == again.pending == len(RESPONSES) * len(CRITERIA) - 1
    assert next_assessment_batch(study, CANDIDATE, k=1).items[0].item_id != item.item_id


def test_a_changed_criterion_makes_its_agent_items_pending_again(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    items = next_assessment_batch(study, CANDIDATE, k=200).items
    record_assessments(study, [AgentVerdict.model_validate(answer_for(i.model_dump())) for i in items], CANDIDATE)
    assert next_assessment_batch(study, CANDIDATE).pending == 0
    rubric = study.paths.rubric_yaml
    rubric.write_text(rubric.read_text().replace("Is the tone polite", "Is the tone warm"))
    batch = next_assessment_batch(study, CANDIDATE, k=200)
    assert batch.pending == len(RESPONSES) and {i.criterion_id for i in batch.items} == {"TN1"}


def test_mcp_errors_reach_the_agent_with_the_fix(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)

    result = run_tool(
        "record_assessments",
        {
            "study": str(study.root),
            "model": CANDIDATE,
            "verdicts": [{"item_id": "x", "reasoning": "r", "answer": "YES"}],
        },
    )
    assert result.is_error and "next_assessment_batch" in result.content[0].text


def test_cli_next_batch_record_and_assess(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    runner = CliRunner()
    base = ["--study", str(study.root), "--json"]
    out = runner.invoke(app, [*base, "next-batch", "--model", CANDIDATE, "-k", "200"])
    assert out.exit_code == 0, out.output
    items = json.loads(out.output)["items"]
    verdicts = tmp_path / "verdicts.jsonl"
    verdicts.write_text("\n".join(json.dumps(answer_for(i)) for i in items) + "\n")
    out = runner.invoke(app, [*base, "record", str(verdicts), "--model", CANDIDATE])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["pending"] == 0
    out = runner.invoke(app, ["--study", str(study.root), "assess", "--agent", "--model", CANDIDATE])
    assert out.exit_code == 0, out.output
    assert f"{EXPECTED_PASSED}/{len(RESPONSES)} responses pass" in out.output


def test_cli_record_rejects_a_malformed_file_naming_the_line(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    bad = tmp_path / "v.jsonl"
    bad.write_text('{"item_id": "a", "reasoning": "r", "answer": "YES"}\n{not json\n')
    from base_model_selector.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--study", str(study.root), "record", str(bad), "--model", CANDIDATE])
    assert info.value.code == 2


def test_status_shows_step_six_pending_until_every_response_has_its_verdicts(tmp_path: Path) -> None:
    from base_model_selector.status import study_status

    study = make_study(tmp_path / "s", UNREACHABLE)
    items = next_assessment_batch(study, CANDIDATE, k=200).items
    verdicts = [AgentVerdict.model_validate(answer_for(i.model_dump())) for i in items]
    record_assessments(study, verdicts[:5], CANDIDATE)
    step = study_status(study, CANDIDATE).steps[5]
    assert step.state == "pending" and "still need verdicts" in step.detail
    record_assessments(study, verdicts[5:], CANDIDATE)
    step = study_status(study, CANDIDATE).steps[5]
    assert step.state == "done" and f"{EXPECTED_PASSED}/{len(RESPONSES)} pass" in step.detail


def test_agent_verdicts_can_be_checked_against_an_llm_judge_for_agreement(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url, extra="  mode: agent\n  agreement_sample: 0.25\n")
        items = next_assessment_batch(study, CANDIDATE, k=200).items
        record_assessments(study, [AgentVerdict.model_validate(answer_for(i.model_dump())) for i in items], CANDIDATE)
        result = asyncio.run(assess_responses(study, CANDIDATE))
        assert fake.chat_count == 10  # 25% of 40 verdicts, re-judged by the LLM judge
    agreement = result.outcome.agreement
    assert agreement is not None and (agreement.sample, agreement.agree, agreement.kappa) == (10, 10, 1.0)
    assert agreement.judge.startswith("llm:llama3.1:8b @ temperature 0.7")


def test_agreement_in_agent_mode_without_any_judge_model_names_the_setting(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE, judge=None, extra="  mode: agent\n")  # type: ignore[arg-type]
    items = next_assessment_batch(study, CANDIDATE, k=200).items
    record_assessments(study, [AgentVerdict.model_validate(answer_for(i.model_dump())) for i in items], CANDIDATE)
    with pytest.raises(ConfigError, match=r"judge\.agreement_model"):
        asyncio.run(assess_responses(study, CANDIDATE, agreement=True))
