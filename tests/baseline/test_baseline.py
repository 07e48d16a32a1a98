"""Step 5: every scenario answered exactly once, through faults, restarts and bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from base_model_selector.baseline.run import BaselineSummary, latest_responses, run_baseline
from base_model_selector.cli import app
from base_model_selector.study import storage
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BackendUnreachable, ModelNotFound, StepNotReady
from baseline_fixture import FAST_RETRY, MODEL, add_scenarios, answers, make_study, responses, scenario
from fakes import FakeOllama, FakeOpenAI, ModelSpec
from shells import run_cli, run_tool


def baseline(study: Study, model: str | None = MODEL, **kwargs: Any) -> BaselineSummary:
    kwargs.setdefault("retry", FAST_RETRY)
    return asyncio.run(run_baseline(study, model, **kwargs))


def test_every_scenario_gets_one_response_with_its_measurements(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url], parallel=4, generation={"temperature": 0.3, "seed": 9})
    add_scenarios(study, 12)
    summary = baseline(study)

    assert (summary.scenarios, summary.answered, summary.new, summary.already_done) == (12, 12, 12, 0)
    assert summary.complete and not summary.failed
    assert summary.p50_latency_s is not None and summary.p95_latency_s >= summary.p50_latency_s
    records = responses(study)
    first = next(r for r in records if r.scenario_id == "s003")
    assert first.text == "Echo: Customer question number 3: where is my parcel 3?"
    assert first.model == MODEL and first.digest and first.host == fake_ollama.url
    assert first.prompt_tokens and first.output_tokens and first.tokens_per_s and first.latency_s > 0
    assert first.done_reason == "stop" and not first.truncated

    sent = fake_ollama.requests_to("/api/chat")[0]
    assert sent["messages"][0] == {"role": "system", "content": "You are a helpful support agent."}
    assert sent["options"] == {"temperature": 0.3, "seed": 9, "num_predict": 1024}
    assert sent["think"] is False, "thinking is off by default"
    assert fake_ollama.max_concurrent_seen <= 4
    assert "12/12 scenarios answered" in summary.summary() and "assess" in summary.summary()


def test_an_identical_rerun_makes_no_model_calls(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 5)
    baseline(study)
    calls = fake_ollama.chat_count
    again = baseline(study)
    assert fake_ollama.chat_count == calls
    assert (again.new, again.already_done, again.answered) == (0, 5, 5)


def test_changed_settings_rerun_and_the_latest_response_per_scenario_wins(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 3)
    baseline(study)
    study = make_study(tmp_path / "s", [fake_ollama.url], generation={"temperature": 0.1}, force=True)
    summary = baseline(study)
    assert summary.new == 3 and summary.already_done == 0 and summary.answered == 3
    assert any("other settings" in w for w in summary.warnings)
    records = responses(study)
    latest = latest_responses(study, MODEL)
    assert len(records) == 6 and len(latest) == 3
    assert {r.key for r in latest.values()} == {r.key for r in records[3:]}


def test_status_shows_the_baseline_stale_after_a_settings_change_and_done_after_the_rerun(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    from base_model_selector.status import study_status

    def step5(s: Study) -> str:
        return study_status(s, MODEL).steps[4].state

    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 3)
    assert step5(study) == "pending"
    baseline(study)
    assert step5(study) == "done"
    study = make_study(tmp_path / "s", [fake_ollama.url], system_prompt="You are terse.", force=True)
    assert step5(study) == "stale"
    baseline(study)
    assert step5(study) == "done"


def test_num_predict_truncation_is_flagged(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url], generation={"num_predict": 16})
    storage.append_jsonl(
        study.paths.scenarios,
        [
            {"id": "long", "text": " ".join(f"word{i}" for i in range(40)), "topic": "t"},
            {"id": "short", "text": "hi", "topic": "t"},
        ],
    )
    summary = baseline(study)
    by_id = {r.scenario_id: r for r in responses(study)}
    assert by_id["long"].truncated and by_id["long"].done_reason == "length"
    assert not by_id["short"].truncated
    assert summary.truncated == ["long"]
    assert "cut by num_predict" in summary.summary() and "generation.num_predict" in summary.summary()


def test_injected_faults_end_with_the_same_answers_as_a_clean_run(tmp_path: Path) -> None:
    with FakeOllama(parallel=4) as clean_server:
        clean = make_study(tmp_path / "clean", [clean_server.url], parallel=4)
        add_scenarios(clean, 24)
        baseline(clean)
    with FakeOllama(parallel=4) as faulty_server:
        faulty = make_study(tmp_path / "faulty", [faulty_server.url], parallel=4)
        add_scenarios(faulty, 24)
        faulty_server.fail_next(2, "503")
        faulty_server.fail_next(2, "drop")
        faulty_server.fail_next(1, "invalid_body")
        faulty_server.fail_every(4, "http500")
        summary = baseline(faulty)
        assert faulty_server.chat_count > 24
    assert summary.retries >= 5 and not summary.failed and summary.complete
    assert answers(faulty) == answers(clean)


def test_persistent_failures_are_reported_and_retried_by_the_next_run(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 4)
    fake_ollama.fail_next(FAST_RETRY.max_retries + 1, "http500")  # the first scenario exhausts its retries
    summary = baseline(study)
    assert len(summary.failed) == 1 and summary.answered == 3 and not summary.complete
    assert "HTTP 500" in summary.failed[0].error
    assert "run the same command again" in summary.summary()
    again = baseline(study)
    assert again.new == 1 and again.complete
    assert len(answers(study)) == 4


def test_zero_scenarios_says_how_to_write_them(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    with pytest.raises(StepNotReady, match=r"scenarios\.jsonl: no scenarios yet.*generate`") as info:
        baseline(study)
    assert "call generate_scenarios(" in info.value.render("mcp")
    assert fake_ollama.chat_count == 0


def test_a_torn_last_scenario_line_is_skipped_with_a_warning(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 3)
    with study.paths.scenarios.open("a") as handle:
        handle.write('{"id": "s999", "text": "half a sce')
    summary = baseline(study)
    assert summary.scenarios == 3 and summary.complete
    assert any("incomplete" in w for w in summary.warnings)


def test_a_torn_last_response_line_is_redone_once(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 4)
    baseline(study)
    path = study.paths.responses(MODEL)
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # a crash in the middle of the last append
    summary = baseline(study)
    assert summary.new == 1 and summary.already_done == 3
    assert len(answers(study)) == 4


def test_a_last_response_without_its_newline_counts_and_survives_the_next_append(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 4)
    baseline(study)
    path = study.paths.responses(MODEL)
    path.write_text(path.read_text().removesuffix("\n"))  # a complete record whose newline never reached disk
    again = baseline(study)
    assert (again.answered, again.new) == (4, 0), "the record is counted as done"
    storage.append_jsonl(study.paths.scenarios, [scenario(4)])
    after = baseline(study)  # appends one response: it must not cut the record it counted as done
    assert (after.answered, after.new, after.already_done) == (5, 1, 4)
    assert sorted(answers(study)) == [f"s{i:03d}" for i in range(5)]


def test_invalid_utf8_in_scenarios_is_refused_with_file_and_line_and_nothing_is_run(
    tmp_path: Path, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 3)
    raw = study.paths.scenarios.read_bytes().split(b"\n")
    raw[1] = raw[1].replace(b"parcel", b"parc\xe9l")  # Latin-1 é written by another tool
    study.paths.scenarios.write_bytes(b"\n".join(raw))
    code, _out, err = run_cli(["--study", str(study.root), "run", "--model", MODEL], capsys)
    assert code == 2 and "Traceback" not in err
    assert "scenarios.jsonl: line 2 is not valid UTF-8" in err
    assert fake_ollama.chat_count == 0 and not study.paths.responses(MODEL).exists()


def test_ollama_down_stops_with_how_to_start_it(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", ["http://127.0.0.1:9"])
    add_scenarios(study, 2)
    with pytest.raises(BackendUnreachable, match=r"Ollama is not reachable at http://127\.0\.0\.1:9 — start it"):
        baseline(study)
    assert not study.paths.responses(MODEL).exists()


def test_a_model_not_pulled_is_refused_with_the_pull_command(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 2)
    with pytest.raises(ModelNotFound) as info:
        baseline(study, "gemma3:270m")
    assert "`base-model-selector pull gemma3:270m`" in str(info.value) and "--pull" in str(info.value)
    assert fake_ollama.chat_count == 0

    summary = baseline(study, "gemma3:270m", pull=True)
    assert summary.complete and fake_ollama.has_model("gemma3:270m")


def test_a_host_lacking_the_model_is_named_before_any_call(tmp_path: Path) -> None:
    with FakeOllama() as one, FakeOllama(models={"llama3.1:8b": ModelSpec()}) as two:
        study = make_study(tmp_path / "s", [one.url, two.url])
        add_scenarios(study, 2)
        with pytest.raises(ModelNotFound, match=f"missing on {two.url}"):
            baseline(study)
        assert one.chat_count == 0


def test_no_model_chosen_says_how_to_choose(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 1)
    with pytest.raises(StepNotReady, match=r"no model chosen yet — run `base-model-selector .* select") as info:
        baseline(study, None)
    assert "call select_model(" in info.value.render("mcp") and 'pass model="qwen3:8b"' in info.value.render("mcp")


def test_the_openai_compatible_backend_runs_the_same_baseline(tmp_path: Path) -> None:
    with FakeOpenAI(models=[MODEL], parallel=2) as server:
        study = make_study(tmp_path / "s", [server.url], parallel=2, kind="openai")
        add_scenarios(study, 4)
        summary = baseline(study)
    assert summary.complete and len(answers(study)) == 4


# ------------------------------------------------------------------ MCP and CLI shells


def test_run_baseline_tool_returns_the_summary_and_errors_carry_the_fix(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 3)
    result = run_tool("run_baseline", {"study": str(study.root), "model": MODEL})
    assert not result.is_error, result.content
    assert result.structured_content["answered"] == 3

    refused = run_tool("run_baseline", {"study": str(study.root), "model": "gemma3:270m"})
    assert refused.is_error
    fix = refused.content[0].text
    assert 'call pull_model(model="gemma3:270m")' in fix and "pull=true" in fix, "the fix names tools, not commands"
    assert "base-model-selector" not in fix


def test_cli_run_prints_the_summary_and_fails_on_failures(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 2)
    result = CliRunner().invoke(app, ["--study", str(study.root), "run", "--model", MODEL])
    assert result.exit_code == 0, result.output
    assert "2/2 scenarios answered" in result.output
