"""write_rubric: an agent without file tools writes rubric.yaml, checked by the rubric's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from base_model_selector.judging.rubric import load_rubric
from base_model_selector.judging.rubric_file import write_rubric
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.errors import ConfigError
from shells import run_tool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sql-analyst" / "rubric.yaml"


@pytest.fixture
def study(tmp_path: Path) -> Study:
    init_study(tmp_path / "s", domain="sql analytics")
    return Study.open(tmp_path / "s")


def test_a_written_rubric_parses_back_as_given_and_is_summarised(study: Study) -> None:
    result = write_rubric(study, yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    written = study.paths.rubric_yaml.read_text(encoding="utf-8")
    assert written.startswith("# rubric.yaml") and "# Questions answered YES / NO / NA" in written
    assert load_rubric(study.paths.rubric_yaml) == load_rubric(EXAMPLE)
    example = load_rubric(EXAMPLE)
    assert result.criteria == [c.id for c in example.criteria] and result.pass_threshold == example.pass_threshold
    assert set(result.safety_gates) == {c.id for c in example.criteria if c.safety_gate} | {
        k.id for k in example.checks if k.gate
    }


def test_weights_that_do_not_sum_to_one_fail_like_the_file_and_write_nothing(study: Study) -> None:
    data = {
        "categories": {"quality": 0.5, "tone": 0.3},
        "criteria": [
            {"id": "Q1", "category": "quality", "question": "Does it answer?"},
            {"id": "T1", "category": "tone", "question": "Is it polite?"},
        ],
    }
    with pytest.raises(ConfigError, match=r"rubric\.yaml: categories \(line \d+\): weights sum to 0\.8"):
        write_rubric(study, data)
    assert not study.paths.rubric_yaml.exists()


def test_write_rubric_tool_takes_structured_arguments_and_warns_about_missing_calibration(study: Study) -> None:
    result = run_tool(
        "write_rubric",
        {
            "study": str(study.root),
            "categories": {"quality": 1.0},
            "criteria": [{"id": "Q1", "category": "quality", "question": "Does it answer the question?"}],
            "checks": [{"id": "J1", "type": "valid_json", "gate": True}],
        },
    )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["criteria"] == ["Q1"] and data["safety_gates"] == ["J1"]
    assert any("calibration" in w for w in data["warnings"])
    assert load_rubric(study.paths.rubric_yaml).checks[0].gate is True
    refused = run_tool(
        "write_rubric",
        {
            "study": str(study.root),
            "categories": {"q": 1.0},
            "criteria": [{"id": "Q1", "category": "x", "question": "ok?"}],
        },
    )
    assert refused.is_error and "unknown category 'x'" in refused.content[0].text
