"""A study end to end through `backend.kind: openai` against each kind of OpenAI-compatible server, and what the
steps say when such a server refuses: every judge call used to fail on llama-cpp-python (it refuses the
`json_schema` response format with HTTP 500), was retried five times, and the step still exited 0.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from base_model_selector.decision.document_check import check_document
from base_model_selector.evaluate import evaluate
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ModelNotFound
from base_model_selector.study.types import CriterionVerdict, JudgeRecord, ModelFacts
from evaluate_fixture import CANDIDATE, JUDGE, edited, prepared_study, scripted
from fakes import FakeOpenAI, ModelSpec
from shells import run_cli

SPECS = {CANDIDATE: ModelSpec(context_length=32768), JUDGE: ModelSpec(context_length=32768)}


def openai_study(root: Path, url: str, *extra: tuple[str, str]) -> Study:
    study = prepared_study(root, url, n=6)
    return edited(study, ("kind: ollama", "kind: openai"), *extra)


def verdicts(study: Study) -> list[CriterionVerdict]:
    return study.read_jsonl(study.paths.verdicts(CANDIDATE), CriterionVerdict).records


@pytest.mark.parametrize("kind", ["llama-cpp-python", "llama.cpp", "vllm", "lmstudio"])
def test_a_study_runs_end_to_end_on_each_openai_compatible_server_with_no_judge_errors(
    tmp_path: Path, kind: str
) -> None:
    with FakeOpenAI(SPECS, kind=kind, responder=scripted, context=16384) as fake:
        study = openai_study(tmp_path / "s", fake.url)
        result = asyncio.run(evaluate(study, CANDIDATE))
        sent = fake.requests_to("/v1/chat/completions")
        calls = fake.chat_count
        second = asyncio.run(evaluate(Study.open(study.root), CANDIDATE))
        assert fake.chat_count == calls, "a finished study makes no model calls, on this backend too"
        assert not fake.errors
    assert result.complete, result.summary()
    assert second.complete and all(s.status == "skipped" for s in second.stages[:5]), second.summary()
    judged = verdicts(study)
    assert judged and not [v for v in judged if v.answer.value == "ERROR"], "zero judge ERRORs"
    form = "json_object+schema" if kind == "llama-cpp-python" else "json_schema"
    record_path = next(study.paths.judge_record(CANDIDATE, "x").parent.glob("llm*.json"))
    record = JudgeRecord.model_validate_json(record_path.read_text())
    assert record.settings["structured_output"] == form, "the form is remembered in the run record"
    refused = [b for b in sent if (b.get("response_format") or {}).get("type") == "json_schema"]
    assert len(refused) == (1 if kind == "llama-cpp-python" else len(refused)), "a refused form is tried once"
    facts = ModelFacts.model_validate_json(study.paths.model_facts(CANDIDATE).read_text())
    assert facts.server is not None and facts.server.kind == kind and facts.server.structured_output == form
    text = study.docs_path().read_text(encoding="utf-8")
    assert check_document(text) == []
    assert re.search(rf"\| Server \| {re.escape(kind)}\b", text) and f"structured_output={form}" in text
    assert "| Seed-reproducible replies |" in text and "| Prompt cache |" in text
    assert "Not reported by the server" in text


def test_generate_with_a_model_name_the_server_does_not_serve_fails_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAI(SPECS, kind="llama-cpp-python", responder=scripted) as fake:
        study = openai_study(tmp_path / "s", fake.url)
        code, _, err = run_cli(["--study", str(study.root), "generate", "--model", "no-such-model-typo"], capsys)
        assert fake.chat_count == 0, "llama-cpp-python would have answered it with its loaded model"
    assert code == 2
    assert "'no-such-model-typo' is not served" in err and "--model_alias no-such-model-typo" in err
    assert not study.paths.scenarios.exists()


def test_a_missing_judge_fails_before_the_baseline_on_a_server_that_answers_any_name(tmp_path: Path) -> None:
    with FakeOpenAI({CANDIDATE: ModelSpec()}, kind="llama.cpp", responder=scripted) as fake:
        study = openai_study(tmp_path / "s", fake.url)
        with pytest.raises(ModelNotFound, match=rf"'{re.escape(JUDGE)}' is not served.*llama-server -m"):
            asyncio.run(evaluate(study, CANDIDATE))
        assert not [b for b in fake.requests_to("/v1/chat/completions") if b["model"] == JUDGE]


def test_a_run_the_server_refuses_stops_after_a_few_requests_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAI(SPECS, kind="vllm", responder=scripted) as fake:
        study = openai_study(tmp_path / "s", fake.url)
        assert run_cli(["--study", str(study.root), "generate", "--model", JUDGE], capsys)[0] == 0
        fake.fail_every(1, "http400")
        before = fake.chat_count
        code, _, err = run_cli(["--study", str(study.root), "run", "--model", CANDIDATE], capsys)
        refused_calls = fake.chat_count - before
    assert code == 2, err
    assert "refused the first 3 requests of this run" in err and "not retried" in err
    assert refused_calls == 3, "3 requests, not 6 scenarios × 2 tries"
    assert "run the same command again" not in err


def test_assess_on_a_server_refusing_some_calls_says_what_to_fix_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAI(SPECS, kind="llama-cpp-python", responder=scripted) as fake:
        study = openai_study(tmp_path / "s", fake.url)
        assert run_cli(["--study", str(study.root), "generate", "--model", JUDGE], capsys)[0] == 0
        assert run_cli(["--study", str(study.root), "run", "--model", CANDIDATE], capsys)[0] == 0
        fake.fail_every(5, "validation500")  # a request error now and then, after others succeeded
        code, out, _ = run_cli(["--study", str(study.root), "assess", "--model", CANDIDATE], capsys)
    assert code == 1, out
    assert "refused by the server and will fail again as they are" in out
    assert "HTTP 500, a validation error" in out
    assert not [v for v in verdicts(study) if v.answer.value == "ERROR"], "a refused call is never an ERROR verdict"


def test_evaluate_shows_a_step_whose_calls_failed_as_failed_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAI(SPECS, kind="llama.cpp", responder=scripted) as fake:
        study = openai_study(tmp_path / "s", fake.url)
        for args in (["check", CANDIDATE], ["generate", "--model", JUDGE], ["run", "--model", CANDIDATE]):
            assert run_cli(["--study", str(study.root), *args], capsys)[0] == 0
        fake.fail_every(4, "http400")  # some judge calls are refused, after others succeeded
        code, out, _ = run_cli(["evaluate", str(study.root), "--model", CANDIDATE], capsys)
    assert code == 1, out
    assert re.search(r"\[failed\] assess", out) and "[skipped] baseline" in out
    assert "refused by the server and will fail again as they are" in out
