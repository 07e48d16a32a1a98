"""`decide` and `write_decision_doc` through the two shells: the MCP tools and the CLI commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from base_model_selector.cli import app
from base_model_selector.decision.decide import current_decision, decide
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StepNotReady, StudyError
from decision_fixture import MODEL, ROWS, write_study
from shells import run_cli, run_tool


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_study(tmp_path / "support")


def test_decide_tool_returns_the_pass_rate_interval_and_band(root: Path) -> None:
    result = run_tool("decide", {"study": str(root)})  # the model defaults to the selected primary
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["model"] == MODEL
    assert (data["pass_rate"]["passed"], data["pass_rate"]["assessed"]) == (7, 10)
    assert data["pass_rate"]["low"] == pytest.approx(0.3968, abs=1e-4)
    assert data["verdict"]["band"] == "likely_sufficient" and data["verdict"]["inconclusive"] is True
    assert (root / "runs" / "qwen3-8b" / "decision.json").is_file()


def test_write_decision_doc_tool_saves_notes_and_refuses_paths_outside_the_study(root: Path) -> None:
    assert not run_tool("decide", {"study": str(root)}).is_error
    result = run_tool(
        "write_decision_doc",
        {"study": str(root), "qualitative_notes": "Generic but polite.", "failure_patterns": {"CQ1": "filler"}},
    )
    assert not result.is_error, result.content
    assert Path(result.structured_content["path"]) == root / "docs" / "base-model-evaluation.md"
    assert "- CQ1: filler" in (root / "notes.md").read_text(encoding="utf-8")

    refused = run_tool("write_decision_doc", {"study": str(root), "path": "/etc/passwd.md"})
    assert refused.is_error
    assert "outside the study directory" in refused.content[0].text


def test_decide_tool_before_assessment_tells_the_agent_what_to_run(root: Path) -> None:
    (root / "runs" / "qwen3-8b" / "assessments.json").unlink()
    result = run_tool("decide", {"study": str(root)})
    assert result.is_error
    assert 'call assess_responses(study="' in result.content[0].text and 'model="qwen3:8b"' in result.content[0].text


def test_cli_decide_then_write_doc_with_patterns(root: Path) -> None:
    runner = CliRunner()
    decided = runner.invoke(app, ["--study", str(root), "decide"])
    assert decided.exit_code == 0, decided.output
    assert "7/10 passed = 70.0% (95% CI 39.7%–89.2%) → Likely sufficient (inconclusive)" in decided.output

    written = runner.invoke(
        app, ["--study", str(root), "write-doc", "--pattern", "CQ2=quotes refunds after 30 days", "--html"]
    )
    assert written.exit_code == 0, written.output
    assert "base-model-evaluation.html" in written.output
    assert "| quotes refunds after 30 days |" in (root / "docs" / "base-model-evaluation.md").read_text("utf-8")

    bad = runner.invoke(app, ["--study", str(root), "write-doc", "--pattern", "no equals sign"])
    assert bad.exit_code == 2 and "ID=TEXT" in bad.output


def test_cli_write_doc_before_decide_fails_with_the_command_to_run(root: Path) -> None:
    result = CliRunner().invoke(app, ["--study", str(root), "write-doc"])
    assert isinstance(result.exception, StepNotReady)
    assert "decide --model qwen3:8b" in str(result.exception)


def test_a_corrupt_assessments_file_is_named_and_nothing_is_decided(root: Path) -> None:
    (root / "runs" / "qwen3-8b" / "assessments.json").write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["--study", str(root), "decide"])
    assert isinstance(result.exception, StudyError)
    assert "assessments.json" in str(result.exception)
    assert not (root / "runs" / "qwen3-8b" / "decision.json").exists()


def test_a_decision_resting_on_too_many_judge_errors_is_unusable_says_so_first_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [(*row[:4], "E" + row[4][1:]) if i < 6 else row for i, row in enumerate(ROWS)]  # 6 more ERRORs: 7
    root = write_study(tmp_path / "errors", rows)
    code, out, _ = run_cli(["--study", str(root), "decide"], capsys)
    assert code == 1
    assert out.startswith("UNUSABLE: 7 of 30 judge verdicts (23%) are ERROR")
    assert "more than judge.max_error_share (10%)" in out and "--rejudge-errors" in out
    assert run_cli(["--study", str(root), "write-doc"], capsys)[0] == 0
    text = (root / "docs" / "base-model-evaluation.md").read_text(encoding="utf-8")
    first_section = text.index("## Model Selection")
    assert text.index("> **Unusable decision — do not act on it.** 7 of 30 judge verdicts") < first_section
    assert "**Decision: unusable**" in text and "| Unusable: " in text
    assert "1. Do not act on this decision: 7 of 30 judge verdicts" in text

    study_yaml = root / "study.yaml"
    study_yaml.write_text(
        study_yaml.read_text().replace("  model: judge:7b", "  model: judge:7b\n  max_error_share: 0.25")
    )
    code, out, _ = run_cli(["--study", str(root), "decide"], capsys)
    assert code == 0 and "UNUSABLE" not in out, "the share is the study's to set"


def test_current_decision_is_what_decide_writes_without_writing_it(root: Path) -> None:
    study = Study.open(root)
    live = current_decision(study, MODEL)
    assert not study.paths.decision(MODEL).exists(), "the review page's live view writes nothing"
    written = decide(study, MODEL, decided_at=live.decided_at)
    assert written == live
