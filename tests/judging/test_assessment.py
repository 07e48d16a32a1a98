"""Step 6 end to end against the fake Ollama: exact pass rates, caching, malformed judges, agreement, bad input."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from assess_fixture import CANDIDATE, CRITERIA, EXPECTED_PASSED, RESPONSES, intended, make_study, scripted_judge
from base_model_selector.judging.assessment import assess_responses
from base_model_selector.judging.rubric import load_rubric
from base_model_selector.judging.scoring import cohen_kappa, score_response
from base_model_selector.study.errors import ConfigError, ModelNotFound, StepNotReady
from base_model_selector.study.storage import read_jsonl
from base_model_selector.study.types import Answer, AssessmentReport, CriterionVerdict
from fakes import FakeOllama


def run(study, **kwargs):
    return asyncio.run(assess_responses(study, CANDIDATE, **kwargs))


def report_of(study) -> AssessmentReport:
    return AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text())


def verdicts_of(study) -> list[CriterionVerdict]:
    return read_jsonl(study.paths.verdicts(CANDIDATE), CriterionVerdict).records


@pytest.mark.parametrize("batched", [pytest.param(False, id="per-criterion"), pytest.param(True, id="batched")])
def test_scripted_judge_gives_the_expected_pass_rate_exactly(tmp_path: Path, batched: bool) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url, batched=batched)
        result = run(study)
        calls = fake.chat_count
    outcome = result.outcome
    assert (outcome.n, outcome.passed) == (len(RESPONSES), EXPECTED_PASSED)
    assert outcome.pass_rate == EXPECTED_PASSED / len(RESPONSES)
    assert [a.passed for a in report_of(study).assessments] == [passed for _, passed in RESPONSES]
    assert calls == (len(RESPONSES) if batched else len(RESPONSES) * len(CRITERIA))
    assert outcome.errors == 0 and outcome.pending == 0
    assert outcome.failures_by_criterion["FM2"] == 1 and outcome.gate_failures == {"SF1": 2, "FM2": 1}


def test_every_verdict_keeps_the_exact_prompt_raw_reply_and_answer(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge) as fake:
        study = make_study(tmp_path / "s", fake.url)
        run(study)
        sent = fake.requests_to("/api/chat")
    verdicts = verdicts_of(study)
    prompts = {body["messages"][0]["content"] for body in sent}
    assert len(verdicts) == len(RESPONSES) * len(CRITERIA)
    for v in verdicts:
        assert v.prompt in prompts and re.fullmatch(r"llm:llama3\.1:8b@[0-9a-f]{12}", v.judge)
        assert json.loads(v.raw_reply or "")["answer"] == v.answer.value
    body = sent[0]
    assert body["options"]["temperature"] == 0 and body["options"]["seed"] == 7
    assert body["think"] is False
    assert list(body["format"]["properties"]) == ["reasoning", "answer"]


def test_a_rerun_makes_no_judge_calls_and_a_changed_criterion_rejudges_only_it(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        run(study)
        first = fake.chat_count
        again = run(study)
        assert fake.chat_count == first and again.cached_calls == first and again.judge_calls == 0
        rubric = study.paths.rubric_yaml
        rubric.write_text(rubric.read_text().replace("Is the tone polite", "Is the tone warm"))
        changed = run(study)
        assert fake.chat_count == first + len(RESPONSES) and changed.judge_calls == len(RESPONSES)
    assert changed.outcome.passed == EXPECTED_PASSED


def test_unparsable_judge_reply_counts_as_failure_not_pass(tmp_path: Path) -> None:
    """A judge that always says YES but garbles every third (response, criterion) twice over never earns a pass."""
    garbled: set[tuple[str, str]] = set()

    def judge(body: dict) -> object:
        prompt = body["messages"][0]["content"]
        cid = next(c for c in CRITERIA if f"# Criterion {c}\n" in prompt)
        scenario = prompt.split("<<<SCENARIO ")[1].split("(case ")[1].split(")")[0]
        if (int(scenario) * len(CRITERIA) + CRITERIA.index(cid)) % 3 == 0:
            garbled.add((f"s{int(scenario):02d}", cid))
            return '{"reasoning": "looks fine", "answer": "YE'
        return {"reasoning": "Always fine.", "answer": "YES"}

    with FakeOllama(responder=judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        result = run(study)
    errors = [v for v in verdicts_of(study) if v.answer is Answer.ERROR]
    assert {(v.scenario_id, v.criterion_id) for v in errors} == garbled
    for v in errors:
        assert v.attempts == 2 and v.raw_reply == '{"reasoning": "looks fine", "answer": "YE'
        assert "did not fit the schema twice" in (v.error or "")
    rubric = load_rubric(study.paths.rubric_yaml)
    for a in report_of(study).assessments:
        for cid in a.errors:
            assert cid in a.failed_criteria
            if rubric.item(cid).gate:
                assert not a.passed
        # What the same verdicts would score if ERROR were (wrongly) a YES can only be higher or equal.
        optimistic = {cid: (Answer.YES if ans is Answer.ERROR else ans) for cid, ans in a.answers.items()}
        best = score_response(
            rubric,
            [
                CriterionVerdict(key=c, scenario_id="x", response_key="x", criterion_id=c, answer=v, judge="t")
                for c, v in optimistic.items()
            ],
            scenario_id="x",
            response_key="x",
        )
        assert a.total <= best.total
    assert result.outcome.errors == len(garbled) == 14
    # By hand: a garbled SF1 (gate) fails s00, s03, s06, s09; a garbled TN1 leaves 0.7 (s01, s04, s07); a garbled
    # CQ2 leaves 0.833 (s02, s05 pass) or, with FM1 failing too, 0.633 (s08). An always-YES judge would pass 9.
    assert [a.passed for a in report_of(study).assessments] == [i in (2, 5) for i in range(10)]
    assert result.outcome.passed == 2


def test_a_reply_repaired_on_the_retry_is_used_and_counts_two_attempts(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=1) as fake:
        study = make_study(tmp_path / "s", fake.url, parallel=1)
        fake.fail_every(2, "invalid_json")  # one-at-a-time: every other call garbled, its retry is clean
        result = run(study)
    assert result.outcome.errors == 0 and result.outcome.passed == EXPECTED_PASSED
    assert {v.attempts for v in verdicts_of(study)} == {1, 2}


def test_errors_can_be_rejudged_once_the_judge_behaves(tmp_path: Path) -> None:
    with FakeOllama(responder=lambda body: "not json at all", parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        broken = run(study)
        assert broken.outcome.passed == 0 and broken.outcome.errors == len(RESPONSES) * len(CRITERIA)
        fake.responder = scripted_judge
        assert run(study).outcome.errors == broken.outcome.errors  # cached: errors stay unless asked
        fixed = run(study, rejudge_errors=True)
    assert fixed.outcome.errors == 0 and fixed.outcome.passed == EXPECTED_PASSED


def test_agreement_rejudges_a_seeded_sample_and_reports_kappa(tmp_path: Path) -> None:
    def moody(body: dict) -> object:
        if body["options"]["temperature"] > 0:  # the sampled re-judge says NO to everything
            return {"reasoning": "On reflection, no.", "answer": "NO"}
        return scripted_judge(body)

    with FakeOllama(responder=moody, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        result = run(study, agreement=True)
        calls = fake.chat_count
        again = run(study, agreement=True)
        assert fake.chat_count == calls  # the re-judgings are cached too
    [agreement] = result.outcome.agreements
    assert agreement.sample == 5  # 10% of 40 is 4: at least 5
    assert agreement.judge_b.endswith("(temperature 0.7, seed 8)"), "the judge's own model again, sampled"
    assert (result.agreement_calls, again.agreement_calls, again.judge_calls) == (5, 0, 0)  # calls actually made
    assert again.outcome.agreements == [agreement]  # same seed, same sample
    first = [
        Answer(intended(RESPONSES[int(d.split("/")[0][1:])][0], d.split("/")[1].split(":")[0]))
        for d in agreement.disagreements
    ]
    assert all(a is not Answer.NO for a in first)
    assert agreement.agree == agreement.sample - len(agreement.disagreements)
    assert report_of(study).summary.agreements == again.outcome.agreements
    if agreement.kappa is not None:
        assert -1 <= agreement.kappa <= 1


def test_agreement_kappa_matches_the_pure_function(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        result = run(study, agreement=True, agreement_sample=1.0)
    [agreement] = result.outcome.agreements
    assert agreement.sample == len(RESPONSES) * len(CRITERIA)
    answers = [v.answer for v in verdicts_of(study)]
    assert agreement.percent_agreement == 1.0 and agreement.kappa == cohen_kappa(answers, answers)


def test_judging_with_the_candidate_itself_is_warned(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge) as fake:
        study = make_study(tmp_path / "s", fake.url, judge=CANDIDATE)
        result = run(study)
    assert any("the candidate itself" in w for w in result.outcome.warnings)
    assert "Warning: the judge is the candidate itself" in result.summary()


def test_a_missing_judge_model_fails_before_any_call_with_the_pull_command(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted_judge) as fake:
        study = make_study(tmp_path / "s", fake.url, judge="nosuch:7b")
        with pytest.raises(ModelNotFound, match="pull nosuch:7b"):
            run(study)
        assert fake.chat_count == 0
    assert not study.paths.assessments(CANDIDATE).exists()


def test_missing_inputs_say_which_step_to_run(tmp_path: Path) -> None:
    with FakeOllama() as fake:
        study = make_study(tmp_path / "s", fake.url)
        study.paths.rubric_yaml.unlink()
        with pytest.raises(ConfigError, match=r"rubric\.yaml: not found; write the rubric"):
            run(study)
        other = make_study(tmp_path / "t", fake.url)
        other.paths.responses(CANDIDATE).unlink()
        with pytest.raises(StepNotReady, match="run step 5 first"):
            run(other)


def test_a_checks_only_rubric_needs_no_judge(tmp_path: Path) -> None:
    with FakeOllama() as fake:
        study = make_study(tmp_path / "s", fake.url, judge="nosuch:7b")
        study.paths.rubric_yaml.write_text(
            "categories: {format: 1.0}\nchecks:\n  - {id: FM1, type: max_words, words: 200, category: format}\n"
        )
        result = run(study)
        assert fake.chat_count == 0
    assert result.outcome.judge == "checks" and result.outcome.n == len(RESPONSES)
    assert result.outcome.passed == len(RESPONSES) - 1


def test_cli_assess_exit_codes_say_whether_every_item_was_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shells import run_cli

    with FakeOllama(responder=scripted_judge, parallel=1) as fake:
        study = make_study(tmp_path / "s", fake.url, parallel=1)
        fake.fail_next(2, "http500")  # the first call and its one retry: that item stays unjudged
        code, out, _ = run_cli(["--study", str(study.root), "assess", "--model", CANDIDATE], capsys)
        assert code == 1 and "failed:" in out and "run assess again to retry" in out
        assert f"{len(RESPONSES) * len(CRITERIA) - 1} of {len(RESPONSES) * len(CRITERIA)} items judged" in out
        assert not study.paths.assessments(CANDIDATE).exists(), "no pass rate on a subset"
        code, out, _ = run_cli(["--study", str(study.root), "assess", "--model", CANDIDATE], capsys)
        assert code == 0 and f"{EXPECTED_PASSED}/{len(RESPONSES)} responses pass" in out
    code, out, _ = run_cli(["--study", str(study.root), "assess", "--agent", "--model", CANDIDATE], capsys)
    assert code == 3 and "0 of 40 items judged by agent:default" in out and "next-batch" in out


def test_verdict_files_written_before_judges_had_identities_still_count(tmp_path: Path) -> None:
    """Old files say `llm:<model>` (no digest) and `agent`; no judge records, no basis in assessments.json."""
    import shutil

    from base_model_selector.judging.agent_judge import AgentVerdict, next_assessment_batch, record_assessments

    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        run(study)
        calls = fake.chat_count
        path = study.paths.verdicts(CANDIDATE)
        path.write_text(re.sub(r'"judge":"llm:llama3\.1:8b@[0-9a-f]+"', '"judge":"llm:llama3.1:8b"', path.read_text()))
        shutil.rmtree(study.paths.judge_record(CANDIDATE, "x").parent)
        study.paths.assessments(CANDIDATE).write_text('{"summary": {"model": "old"}, "assessments": []}')
        again = run(study)
        assert fake.chat_count == calls, "the old verdicts are found by their keys: no judge call"
    assert again.state == "complete" and again.outcome is not None and again.outcome.passed == EXPECTED_PASSED

    agent = make_study(tmp_path / "a", "http://127.0.0.1:9", extra="  mode: agent\n")
    batch = next_assessment_batch(agent, CANDIDATE, k=200)
    ids = [i for r in batch.responses for i in r.item_ids]
    record_assessments(agent, [AgentVerdict(item_id=i, reasoning="ok", answer="YES") for i in ids], CANDIDATE)
    path = agent.paths.verdicts(CANDIDATE)
    path.write_text(path.read_text().replace('"judge":"agent:default"', '"judge":"agent"'))
    assert '"judge":"agent"' in path.read_text()
    result = asyncio.run(assess_responses(agent, CANDIDATE))
    assert result.state == "complete" and result.judge == "agent:default"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("system_prompt", id="system-prompt"),
        pytest.param("template", id="judge-template"),
    ],
)
def test_the_stored_keys_are_not_reused_when_what_the_prompts_are_made_of_changed(tmp_path: Path, change: str) -> None:
    """A finished run re-scores from the judge record's keys; anything that shapes a prompt makes them stale."""
    from base_model_selector.judging.llm_judge import SINGLE_TEMPLATE
    from base_model_selector.study import templating

    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "s", fake.url)
        first = run(study)
        assert run(study).judge_calls == 0
        if change == "system_prompt":
            yaml = study.paths.study_yaml
            yaml.write_text(yaml.read_text().replace("You are the support assistant.", "You are the helpdesk."))
        else:
            (study.root / "templates").mkdir()
            source = templating.source(SINGLE_TEMPLATE)
            (study.root / "templates" / SINGLE_TEMPLATE).write_text(source.replace("strict, impartial", "careful"))
        from base_model_selector.study.directory import Study

        again = run(Study.open(study.root))
    assert again.judge_calls == first.judge_calls == len(RESPONSES) * len(CRITERIA)
