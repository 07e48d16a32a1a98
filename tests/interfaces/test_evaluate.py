"""`evaluate` end to end against the loopback Ollama: an example study from pull to document, then again for free."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from base_model_selector.cli import app
from base_model_selector.decision.document_check import check_document
from base_model_selector.evaluate import evaluate
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StepNotReady
from evaluate_fixture import CANDIDATE, JUDGE, edited, prepared_study, scripted
from fakes import FakeOllama


def test_evaluate_runs_an_example_study_end_to_end_and_a_second_run_makes_no_model_calls(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.responder = scripted
    study = prepared_study(tmp_path / "customer-support", fake_ollama.url)

    first = asyncio.run(evaluate(study, CANDIDATE))
    assert first.complete, first.summary()
    assert fake_ollama.has_model(CANDIDATE)
    assert [s.stage for s in first.stages] == ["pull", "check", "scenarios", "baseline", "assess", "decide", "document"]
    calls = fake_ollama.chat_count
    assert calls > 8

    doc_path = study.docs_path()
    text = doc_path.read_text(encoding="utf-8")
    assert check_document(text) == []
    _assert_numbers_match_the_assessments_on_disk(study, text)
    assert f"| Scenarios | n=8, seed=13; generator {JUDGE} (8) |" in text, "the generator as recorded, not guessed"

    before = _snapshot(study.root)
    runner = CliRunner()
    second = runner.invoke(app, ["evaluate", str(study.root), "--model", CANDIDATE])
    assert second.exit_code == 0, second.output
    assert fake_ollama.chat_count == calls, "a finished study must not call the model again"
    assert re.search(r"\[skipped\] baseline", second.output) and re.search(r"\[skipped\] assess", second.output)
    assert check_document(doc_path.read_text(encoding="utf-8")) == []
    assert _snapshot(study.root) == before, "a second evaluate of a finished study changes no byte"


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file's sha256 and modification time (the lock file is the lock's own business)."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".study.lock"
    }


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_committed_study_stays_clean_in_git_after_a_second_evaluate(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    """Files a team commits showed a diff after a second evaluate that only changed timestamps."""
    fake_ollama.responder = scripted
    fake_ollama.add_model(CANDIDATE)
    study = prepared_study(tmp_path / "s", fake_ollama.url, n=4)
    assert asyncio.run(evaluate(study, CANDIDATE, html=True)).complete
    git = ["git", "-C", str(study.root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "evaluated"], check=True)
    assert asyncio.run(evaluate(Study.open(study.root), CANDIDATE, html=True)).complete
    status = subprocess.run([*git, "status", "--porcelain"], check=True, capture_output=True, text=True).stdout
    assert status == ""


def _assert_numbers_match_the_assessments_on_disk(study: Study, text: str) -> None:
    report = json.loads(study.paths.assessments(CANDIDATE).read_text(encoding="utf-8"))
    assessments = report["assessments"]
    scenarios = [line for line in study.paths.scenarios.read_text(encoding="utf-8").splitlines() if line.strip()]
    passed = sum(1 for a in assessments if a["passed"])
    n = len(assessments)
    assert n == len(scenarios) == 8
    row = re.search(r"^\| (\d+) \| (\d+) \| (\d+) \| ([\d.]+)% \|", text, re.M)
    assert row is not None
    assert (int(row[1]), int(row[2]), int(row[3])) == (len(scenarios), n, passed)
    assert float(row[4]) == pytest.approx(100 * passed / n, abs=0.05)
    for cid, count in report["summary"]["failures_by_criterion"].items():
        if count:
            assert re.search(rf"^\| {re.escape(cid)}( \(gate\))? \| [^|]+ \| {count}/{n}\b", text, re.M), cid
        else:
            assert not re.search(rf"^\| {re.escape(cid)}( \(gate\))? \|", text, re.M), cid


def test_evaluate_over_mcp_reports_progress_and_returns_the_decision(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    from mcp import Client

    from base_model_selector.server import build_server

    fake_ollama.responder = scripted
    fake_ollama.add_model(CANDIDATE)
    study = prepared_study(tmp_path / "s", fake_ollama.url, n=5)
    seen: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(done)

    async def call() -> Any:
        async with Client(build_server()) as client:
            return await client.call_tool(
                "evaluate", {"study": str(study.root), "model": CANDIDATE}, progress_callback=on_progress
            )

    result = asyncio.run(call())
    assert not result.is_error, result.content
    assert result.structured_content["complete"] is True
    assert "passed" in result.structured_content["decision"]
    assert seen and seen == sorted(seen), "one progress display that only moves forward"


def test_evaluate_refuses_a_study_without_a_model_and_names_the_fix(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = prepared_study(tmp_path / "s", fake_ollama.url)
    with pytest.raises(StepNotReady, match="--model"):
        asyncio.run(evaluate(study))
    assert fake_ollama.chat_count == 0


def test_evaluate_with_the_agent_as_judge_stops_after_the_baseline_and_says_what_to_do(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.responder = scripted
    fake_ollama.add_model(CANDIDATE)
    study = edited(prepared_study(tmp_path / "s", fake_ollama.url, n=3), ("mode: llm", "mode: agent"))

    result = asyncio.run(evaluate(study, CANDIDATE))
    assert not result.complete
    assert [s.stage for s in result.stages][-1] == "assess"
    assert "next_assessment_batch" in result.next_action
    assert not study.docs_path().exists() and not study.paths.decision(CANDIDATE).exists()

    cli = CliRunner().invoke(app, ["--study", str(study.root), "evaluate", "--model", CANDIDATE])
    assert cli.exit_code == 1 and "next_assessment_batch" in cli.output


def test_a_missing_judge_model_fails_before_the_baseline_with_its_pull_command(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    from base_model_selector.study.errors import ModelNotFound

    fake_ollama.add_model(CANDIDATE)
    study = prepared_study(tmp_path / "s", fake_ollama.url)
    fake_ollama.remove_model(JUDGE)
    with pytest.raises(ModelNotFound, match="pull"):
        asyncio.run(evaluate(study, CANDIDATE))
    assert fake_ollama.chat_count == 0


def test_evaluate_stops_before_the_baseline_when_planned_scenarios_could_not_be_written(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    """A generator that repeats itself leaves slots empty: deciding on the few that remain would mislead."""
    fake_ollama.responder = lambda request: "my invoice is wrong?" if "format" not in request else None
    study = prepared_study(tmp_path / "customer-support", fake_ollama.url)

    result = asyncio.run(evaluate(study, CANDIDATE))

    assert not result.complete
    assert [s.stage for s in result.stages][-1] == "scenarios" and result.stages[-1].status == "stopped"
    assert "add_scenarios" in result.next_action
    assert not study.paths.responses(CANDIDATE).exists(), "no baseline is run on a short set"


def failing_for(*subtopics: str) -> Any:
    """`scripted`, except that the generator returns nothing for the slots of the given subtopics."""

    def respond(request: dict[str, Any]) -> Any:
        prompt = request["messages"][0]["content"]
        if request["messages"][0]["role"] == "user" and any(f"Specifically: {s}" in prompt for s in subtopics):
            return ""
        return scripted(request)

    return respond


@pytest.mark.parametrize(
    ("failing", "min_share", "complete"),
    [
        pytest.param(("password reset",), None, True, id="9-of-10-meets-the-default-90pc"),
        pytest.param(("password reset", "recurring invoices"), None, False, id="8-of-10-is-below-90pc"),
        pytest.param(("password reset", "recurring invoices"), 0.8, True, id="8-of-10-meets-a-configured-80pc"),
    ],
)
def test_evaluate_goes_on_with_a_warning_when_enough_planned_scenarios_were_written_and_stops_otherwise(
    tmp_path: Path, fake_ollama: FakeOllama, failing: tuple[str, ...], min_share: float | None, complete: bool
) -> None:
    fake_ollama.responder = failing_for(*failing)
    study = prepared_study(tmp_path / "customer-support", fake_ollama.url, n=10)
    if min_share is not None:
        study = edited(study, ("  n: 10\n", f"  n: 10\n  min_share: {min_share}\n"))

    result = asyncio.run(evaluate(study, CANDIDATE))

    written = f"only {10 - len(failing)} of 10 planned scenarios were written"
    assert result.complete is complete, result.summary()
    summary = next(s for s in result.stages if s.stage == "scenarios").summary
    for subtopic in failing:
        assert subtopic in summary and "all 4 replies were unusable (empty ×4)" in summary
    if complete:
        assert any(written in w and "password reset" in w for w in result.warnings), result.warnings
        decision = json.loads(study.paths.decision(CANDIDATE).read_text(encoding="utf-8"))
        assert any("planned scenarios were never written" in w for w in decision["warnings"])
        assert "planned scenarios were never written" in study.docs_path().read_text(encoding="utf-8")
    else:
        assert written in result.next_action and "scenarios.min_share (90%)" in result.next_action
        assert not study.paths.responses(CANDIDATE).exists()


def test_the_document_names_the_generator_that_wrote_the_scenarios_as_recorded(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    """With no judge or generator model set, the candidate wrote the scenarios; the document once said 'none'."""
    fake_ollama.responder = scripted
    fake_ollama.add_model(CANDIDATE)
    study = edited(prepared_study(tmp_path / "s", fake_ollama.url, n=3), (f'model: "{JUDGE}"', "model: null"))
    assert asyncio.run(evaluate(study, CANDIDATE)).complete
    from base_model_selector.decision.report import write_decision_doc

    write_decision_doc(edited(study, ("generator_model: null", 'generator_model: "x:1b"')), CANDIDATE)
    text = study.docs_path().read_text(encoding="utf-8")
    assert f"| Scenarios | n=3, seed=13; generator {CANDIDATE} (3) |" in text
