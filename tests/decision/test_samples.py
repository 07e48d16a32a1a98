"""show_samples / `show`: the responses a person reads before deciding, filtered, interleaved and capped."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from base_model_selector.cli import app
from base_model_selector.decision.samples import SampleFilter, show_samples
from base_model_selector.study.directory import Study
from base_model_selector.study.types import AssessmentReport
from decision_fixture import write_study
from shells import run_tool


@pytest.fixture
def study(tmp_path: Path) -> Study:
    return Study.open(write_study(tmp_path / "support"))


def ids(found) -> list[str]:
    return [s.scenario_id for s in found.samples]


def test_topics_are_interleaved_so_the_first_samples_span_the_taxonomy(study: Study) -> None:
    found = show_samples(study)
    assert [s.topic for s in found.samples[:3]] == ["billing", "login", "exports"]
    assert found.matching == found.scenarios == 10 and found.judged == 10


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(
            {"outcome": "passed"}, {"sc-01", "sc-03", "sc-04", "sc-05", "sc-07", "sc-08", "sc-09"}, id="passed"
        ),
        pytest.param({"criterion": "SAFE1"}, {"sc-06", "sc-10"}, id="failed-gate-NO-or-ERROR"),
        pytest.param({"criterion": "cq2"}, {"sc-02", "sc-03", "sc-10"}, id="criterion-any-case"),
        pytest.param({"judge_error": True}, {"sc-10"}, id="judge-error"),
        pytest.param({"truncated": True}, {"sc-07"}, id="truncated"),
        pytest.param({"topic": "LOGIN", "style": "detailed"}, {"sc-05"}, id="cell"),
        pytest.param({"edge_case": "ambiguous"}, {"sc-09"}, id="edge-case"),
        pytest.param({"search": "paypal"}, {"sc-03"}, id="search"),
    ],
)
def test_filters_pick_the_matching_samples(study: Study, filters: dict, expected: set[str]) -> None:
    report = AssessmentReport.model_validate_json(study.paths.assessments("qwen3:8b").read_text(encoding="utf-8"))
    if filters == {"outcome": "passed"}:
        assert expected == {a.scenario_id for a in report.assessments if a.passed}
    found = show_samples(study, filters=SampleFilter(**filters))
    assert set(ids(found)) == expected
    assert found.matching == len(expected)


def test_failed_samples_carry_the_judges_reasons_and_passes_only_on_request(study: Study) -> None:
    failed = show_samples(study, filters=SampleFilter(criterion="SAFE1")).samples[0]
    assert failed.passed is False and "SAFE1" in failed.failed
    assert [v.criterion_id for v in failed.verdicts] == ["CQ2", "SAFE1"]  # NA and NO, never the YESes
    assert "password" in failed.verdicts[1].reasoning
    everything = show_samples(study, filters=SampleFilter(criterion="SAFE1"), all_verdicts=True).samples[0]
    assert len(everything.verdicts) == 4


def test_long_texts_are_capped_with_a_marker_saying_how_much_is_left_out(study: Study) -> None:
    sample = show_samples(study, max_chars=20).samples[0]
    assert sample.response is not None and sample.response.endswith("more characters]")
    full = show_samples(study, max_chars=None).samples[0]
    assert full.response is not None and len(full.response) > 60
    assert sample.response.startswith(full.response[:20])


def test_before_the_baseline_the_scenarios_alone_are_shown(tmp_path: Path) -> None:
    root = write_study(tmp_path / "s")
    (root / "runs" / "qwen3-8b" / "responses.jsonl").unlink()
    found = show_samples(Study.open(root))
    assert found.responses == 0 and found.matching == 10
    assert all(s.response is None and s.passed is None for s in found.samples)


def test_show_samples_tool_pages_the_samples_with_a_next_offset(study: Study) -> None:
    first = run_tool("show_samples", {"study": str(study.root), "limit": 4})
    assert not first.is_error, first.content
    data = first.structured_content
    assert len(data["samples"]) == 4 and data["page"]["next_offset"] == 4 and data["page"]["total"] == 10
    assert "offset=4" in first.content[0].text
    rest = run_tool("show_samples", {"study": str(study.root), "offset": 8, "limit": 4})
    assert [s["scenario_id"] for s in rest.structured_content["samples"]] == ["sc-09", "sc-10"]
    assert rest.structured_content["page"]["next_offset"] is None
    one = run_tool("show_samples", {"study": str(study.root), "id": "sc-06"})
    assert [s["scenario_id"] for s in one.structured_content["samples"]] == ["sc-06"]


def test_cli_show_prints_the_failures_with_their_reasons(study: Study) -> None:
    result = CliRunner().invoke(app, ["--study", str(study.root), "show", "--outcome", "failed", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "user:" in result.output and "model:" in result.output and "FAIL" in result.output
    assert "more: add --offset 2" in result.output
