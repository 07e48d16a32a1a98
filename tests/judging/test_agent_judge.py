"""The agent or a person as judge over MCP and the CLI: compact batches, validated verdicts, identities, the same
scores as the LLM path, and judges that never replace one another."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from mcp import Client
from typer.testing import CliRunner

from assess_fixture import CANDIDATE, CRITERIA, EXPECTED_PASSED, RESPONSES, intended, make_study, scripted_judge
from base_model_selector.cli import app
from base_model_selector.decision.decide import decide
from base_model_selector.judging.agent_judge import (
    AgentVerdict,
    VerdictsRejected,
    next_assessment_batch,
    record_assessments,
)
from base_model_selector.judging.assessment import assess_responses
from base_model_selector.judging.results import item_table
from base_model_selector.server import build_server
from base_model_selector.study.errors import ConfigError, StepNotReady
from base_model_selector.study.storage import read_jsonl
from base_model_selector.study.types import AssessmentReport, CriterionVerdict
from fakes import FakeOllama
from shells import run_tool

UNREACHABLE = "http://127.0.0.1:9"  # the agent path never calls a model server
NA_INVALID = {"CQ1", "SF1"}  # support.yaml
ITEMS = len(RESPONSES) * len(CRITERIA)
LLM_JUDGE = r"llm:llama3\.1:8b@[0-9a-f]{12}"  # the judge's identity: its model and the first 12 digits of its digest


def scores(study) -> list[tuple]:
    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text())
    return [(a.scenario_id, a.total, a.passed, a.failed_criteria, a.failed_gates) for a in report.assessments]


def batch_items(batch: dict) -> list[dict]:
    """The items of a batch (structured form), each with its response text and criterion ID."""
    return [
        {"item_id": i, "criterion_id": i.split(":")[-2], "response": r["response"], "scenario_id": r["scenario_id"]}
        for r in batch["responses"]
        for i in r["item_ids"]
    ]


def answer_for(item: dict, flip: bool = False) -> dict:
    """What the scripted judge would say; NA where the rubric refuses it becomes NO (it scores the same)."""
    answer = intended(item["response"], item["criterion_id"])
    if answer == "NA" and item["criterion_id"] in NA_INVALID:
        answer = "NO"
    if flip:
        answer = {"YES": "NO", "NO": "YES", "NA": "NO"}[answer]
    return {"item_id": item["item_id"], "reasoning": f"Judged {item['criterion_id']} by hand.", "answer": answer}


def verdicts_for(batch, **kwargs) -> list[AgentVerdict]:
    return [AgentVerdict.model_validate(answer_for(i, **kwargs)) for i in batch_items(batch.model_dump())]


def judge_everything(study, judge: str = "agent:default", **kwargs) -> None:
    record_assessments(study, verdicts_for(next_assessment_batch(study, CANDIDATE, k=200, judge=judge), **kwargs),
                       CANDIDATE, judge=judge)  # fmt: skip


def llm_judged(tmp_path: Path, fake: FakeOllama, **kwargs):
    study = make_study(tmp_path / "llm", fake.url, **kwargs)
    result = asyncio.run(assess_responses(study, CANDIDATE))
    assert result.state == "complete"
    return study


@pytest.mark.anyio
async def test_agent_verdicts_recorded_over_mcp_score_the_same_as_the_llm_path(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        llm_study = make_study(tmp_path / "llm", fake.url)
        await assess_responses(llm_study, CANDIDATE)
    agent_study = make_study(tmp_path / "agent", UNREACHABLE, extra="  mode: agent\n")
    study = str(agent_study.root)
    async with Client(build_server()) as client:
        recorded, context = 0, None
        while True:
            args = {"study": study, "model": CANDIDATE, "k": 7} | ({"context_hash": context} if context else {})
            batch = await client.call_tool("next_assessment_batch", args)
            assert not batch.is_error, batch.content
            data = batch.structured_content
            assert (data["context"] is None) == (context is not None), "the rubric comes once, then by hash"
            context = data["context_hash"]
            items = batch_items(data)
            if not items:
                break
            result = await client.call_tool(
                "record_assessments",
                {"study": study, "model": CANDIDATE, "verdicts": [answer_for(i) for i in items]},
            )
            assert not result.is_error, result.content
            recorded += len(items)
        assert recorded == ITEMS
        final = await client.call_tool("assess_responses", {"study": study, "model": CANDIDATE})
        assert not final.is_error, final.content
    outcome = final.structured_content["outcome"]
    assert (outcome["n"], outcome["passed"], outcome["judge"]) == (len(RESPONSES), EXPECTED_PASSED, "agent:default")
    assert scores(agent_study) == scores(llm_study)


def test_a_batch_groups_the_items_of_each_response_and_carries_the_rubric_once(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE, extra="  mode: agent\n")
    batch = next_assessment_batch(study, CANDIDATE, k=6)
    assert (batch.pending, batch.total, batch.batch) == (ITEMS, ITEMS, 6)
    assert [(r.scenario_id, len(r.item_ids)) for r in batch.responses] == [("s00", 4), ("s01", 2)]
    assert batch.context is not None and batch.context.criteria["CQ1"].na_invalid
    assert [e.type for e in batch.context.criteria["CQ1"].calibration_examples] == ["PASS", "FAIL"]
    assert "untrusted" in batch.context.instructions
    assert batch.context.system_prompt == "You are the support assistant."
    again = next_assessment_batch(study, CANDIDATE, k=6, context_hash=batch.context_hash)
    assert again.context is None and again.responses == batch.responses


def test_the_text_form_of_a_batch_fences_untrusted_text(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE, extra="  mode: agent\n")
    text = next_assessment_batch(study, CANDIDATE, k=4).summary()
    assert "<<<RESPONSE " in text and "s00:CQ1:" in text and "### CQ1 (NA refused)" in text


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
    verdicts = [answer_for(i) for i in batch_items(next_assessment_batch(study, CANDIDATE, k=3).model_dump())]
    mutate(verdicts[1])
    with pytest.raises(VerdictsRejected, match=problem) as info:
        record_assessments(study, [AgentVerdict.model_validate(v) for v in verdicts], CANDIDATE)
    assert "verdicts[1]" in str(info.value) and "nothing was recorded" in str(info.value)
    assert not study.paths.verdicts(CANDIDATE).exists()


def test_na_on_a_criterion_marked_na_invalid_is_refused_naming_the_item_and_criterion(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE, extra="  mode: agent\n")
    items = batch_items(next_assessment_batch(study, CANDIDATE, k=4).model_dump())  # s00: CQ1 CQ2 TN1 SF1
    verdicts = [AgentVerdict(item_id=i["item_id"], reasoning="Does not apply.", answer="NA") for i in items]
    with pytest.raises(VerdictsRejected) as info:
        record_assessments(study, verdicts, CANDIDATE)
    message = str(info.value)
    assert "2 of 4 verdicts are invalid; nothing was recorded" in message
    assert "NA refused for criterion CQ1 on scenario s00" in message and "criterion SF1" in message
    assert "CQ2" not in message.split("nothing was recorded")[1]  # NA is fine where the rubric allows it
    assert not study.paths.verdicts(CANDIDATE).exists()


def test_a_verdict_given_twice_in_one_batch_is_rejected(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    item = batch_items(next_assessment_batch(study, CANDIDATE, k=1).model_dump())[0]
    verdict = AgentVerdict.model_validate(answer_for(item))
    with pytest.raises(VerdictsRejected, match="given twice"):
        record_assessments(study, [verdict, verdict], CANDIDATE)


def test_lowercase_answers_are_accepted_and_rerecording_replaces(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    item = batch_items(next_assessment_batch(study, CANDIDATE, k=1).model_dump())[0]
    first = record_assessments(study, [AgentVerdict(item_id=item["item_id"], reasoning="r", answer="no")], CANDIDATE)
    again = record_assessments(study, [AgentVerdict(item_id=item["item_id"], reasoning="r", answer="YES")], CANDIDATE)
    assert (first.recorded, first.replaced, again.replaced) == (1, 0, 1)
    assert first.pending == again.pending == ITEMS - 1
    assert batch_items(next_assessment_batch(study, CANDIDATE, k=1).model_dump())[0]["item_id"] != item["item_id"]


def test_a_partial_agent_run_has_no_pass_rate_and_cannot_be_decided(tmp_path: Path) -> None:
    """Recording 5 verdicts once gave '1/1 passed = 100% → Likely sufficient'."""
    study = make_study(tmp_path / "s", UNREACHABLE, extra="  mode: agent\n")
    some = verdicts_for(next_assessment_batch(study, CANDIDATE, k=5))
    result = record_assessments(study, some, CANDIDATE)
    assert result.outcome is None and not result.complete
    assert result.coverage == f"5 of {ITEMS} items judged by agent:default"
    assert not study.paths.assessments(CANDIDATE).exists()
    with pytest.raises(StepNotReady) as info:
        decide(study, CANDIDATE)
    assert f"5 of {ITEMS} items judged by agent:default" in str(info.value)
    assert "call next_assessment_batch(" in info.value.render("mcp") and "record FILE" in str(info.value)
    assert not study.paths.decision(CANDIDATE).exists()


def test_a_changed_criterion_makes_its_items_pending_again(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    judge_everything(study)
    assert next_assessment_batch(study, CANDIDATE).pending == 0
    rubric = study.paths.rubric_yaml
    rubric.write_text(rubric.read_text().replace("Is the tone polite", "Is the tone warm"))
    batch = next_assessment_batch(study, CANDIDATE, k=200)
    assert batch.pending == len(RESPONSES)
    assert {i["criterion_id"] for i in batch_items(batch.model_dump())} == {"TN1"}


def test_mcp_errors_reach_the_agent_with_the_fix(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    result = run_tool(
        "record_assessments",
        {"study": str(study.root), "verdicts": [{"item_id": "x", "reasoning": "r", "answer": "YES"}]}
        | {"model": CANDIDATE},
    )
    assert result.is_error and "next_assessment_batch" in result.content[0].text


def test_an_llm_identity_cannot_record_verdicts_by_hand(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    with pytest.raises(ConfigError, match="agent:<name> or human:<name>"):
        next_assessment_batch(study, CANDIDATE, judge="llm:llama3.1:8b")


def test_cli_next_batch_record_and_assess(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE)
    runner = CliRunner()
    base = ["--study", str(study.root), "--json"]
    out = runner.invoke(app, [*base, "next-batch", "--model", CANDIDATE, "-k", "200"])
    assert out.exit_code == 0, out.output
    verdicts = tmp_path / "verdicts.jsonl"
    verdicts.write_text("\n".join(json.dumps(answer_for(i)) for i in batch_items(json.loads(out.output))) + "\n")
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


def test_status_shows_step_six_pending_until_every_item_has_its_verdict(tmp_path: Path) -> None:
    from base_model_selector.status import study_status

    study = make_study(tmp_path / "s", UNREACHABLE, extra="  mode: agent\n")
    verdicts = verdicts_for(next_assessment_batch(study, CANDIDATE, k=200))
    record_assessments(study, verdicts[:5], CANDIDATE)
    step = study_status(study, CANDIDATE).steps[5]
    assert step.state == "pending" and f"5 of {ITEMS} items judged by agent:default" in step.detail
    record_assessments(study, verdicts[5:], CANDIDATE)
    step = study_status(study, CANDIDATE).steps[5]
    assert step.state == "done" and f"{EXPECTED_PASSED}/{len(RESPONSES)} pass" in step.detail


# ------------------------------------------------------------------------------------------------ judges side by side
def test_agent_verdicts_after_an_llm_run_are_a_comparison_and_never_change_the_decision(tmp_path: Path) -> None:
    """An LLM-judged study once flipped to '1/1 passed = 100%' when 20 agent verdicts replaced its summary."""
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = llm_judged(tmp_path, fake)
    before = decide(study, CANDIDATE)
    batch = next_assessment_batch(study, CANDIDATE, k=20)
    assert (batch.role, batch.pending) == ("comparison", ITEMS) and re.fullmatch(LLM_JUDGE, batch.primary)
    result = record_assessments(study, verdicts_for(batch, flip=True), CANDIDATE)
    assert result.role == "comparison" and result.complete
    after = decide(study, CANDIDATE)
    assert (after.pass_rate, after.verdict) == (before.pass_rate, before.verdict)
    [agreement] = after.judge.agreements
    assert agreement.judge_b == "agent:default"
    assert re.fullmatch(LLM_JUDGE + r" \(temperature 0, seed 7\)", agreement.judge_a)
    assert agreement.sample == 20 and agreement.agree == 0 and agreement.warning is not None
    assert next_assessment_batch(study, CANDIDATE).pending == ITEMS - 20  # only what agent:default has not judged
    records = sorted(p.name for p in study.paths.judge_record(CANDIDATE, "x").parent.iterdir())
    assert records == ["agent-default.json", f"llm-llama3.1-8b-{batch.primary.rsplit('@')[1]}.json"]


def test_a_persons_verdict_overrides_the_primary_judge_and_the_later_person_wins(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = llm_judged(tmp_path, fake)
    before = decide(study, CANDIDATE)
    row = next(r for r in item_table(study, CANDIDATE) if (r.scenario_id, r.criterion_id) == ("s00", "TN1"))
    assert row.counts is not None and row.counts.answer.value == "YES"
    no = AgentVerdict(item_id=row.item_id, reasoning="Curt.", answer="NO", comment="too curt for us")
    result = record_assessments(study, [no], CANDIDATE, judge="human:dana")
    assert (result.role, result.overridden, result.changed) == ("override", 1, 1)
    after = decide(study, CANDIDATE)
    assert after.pass_rate.passed == before.pass_rate.passed - 1  # s00 now scores 0.7 < 0.8
    assert (after.judge.overridden, after.judge.changed, after.judge.people) == (1, 1, ["human:dana"])
    person = next(a for a in after.judge.agreements if a.judge_b == "human:dana")
    assert (person.sample, person.agree) == (1, 0) and "a person's choice" in person.sampling
    yes = AgentVerdict(item_id=row.item_id, reasoning="Fine on reflection.", answer="YES")
    record_assessments(study, [yes], CANDIDATE, judge="human:eve")
    assert decide(study, CANDIDATE).pass_rate == before.pass_rate  # the later person's verdict counts
    row = next(r for r in item_table(study, CANDIDATE) if r.item_id == row.item_id)
    assert row.verdicts[0].judge.startswith("llm:") and row.counts is not None and row.counts.judge == "human:eve"
    assert {v.judge: v.comment for v in row.verdicts}["human:dana"] == "too curt for us"
    stored = read_jsonl(study.paths.verdicts(CANDIDATE), CriterionVerdict).records
    assert [v.judge for v in stored[-2:]] == ["human:dana", "human:eve"]  # appended, nothing replaced


def test_cli_record_as_a_person(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = llm_judged(tmp_path, fake)
    item = next(r for r in item_table(study, CANDIDATE) if r.criterion_id == "TN1")
    file = tmp_path / "mine.json"
    file.write_text(json.dumps([{"item_id": item.item_id, "reasoning": "Rude.", "answer": "NO", "comment": "x"}]))
    out = CliRunner().invoke(
        app, ["--study", str(study.root), "record", str(file), "--model", CANDIDATE, "--judge", "human:Dana"]
    )
    assert out.exit_code == 0, out.output
    assert "by human:dana (override" in out.output


def test_agent_verdicts_can_be_checked_against_an_llm_judge_for_agreement(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url, extra="  mode: agent\n  agreement_sample: 0.25\n")
        judge_everything(study)
        result = asyncio.run(assess_responses(study, CANDIDATE))
        assert fake.chat_count == 10  # 25% of 40 verdicts, re-judged by the LLM judge
    [agreement] = result.outcome.agreements
    assert (agreement.sample, agreement.agree, agreement.kappa) == (10, 10, 1.0)
    assert result.judge_calls == result.agreement_calls == 10, "the calls actually made"
    assert agreement.judge_a == "agent:default"
    assert re.fullmatch(LLM_JUDGE + r" \(temperature 0, seed 8\)", agreement.judge_b), "a second opinion at 0"
    assert agreement.sampling.startswith("re-judge: a seeded random sample (seed 7) of 25% of the 40 items")


def test_agreement_in_agent_mode_without_any_judge_model_names_the_setting(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", UNREACHABLE, judge=None, extra="  mode: agent\n")  # type: ignore[arg-type]
    judge_everything(study)
    with pytest.raises(ConfigError, match=r"judge\.agreement_model"):
        asyncio.run(assess_responses(study, CANDIDATE, agreement=True))
