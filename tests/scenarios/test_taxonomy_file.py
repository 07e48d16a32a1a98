"""write_taxonomy: an agent without file tools writes taxonomy.yaml, validated like the file, commented."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from base_model_selector.scenarios.taxonomy import load_taxonomy
from base_model_selector.scenarios.taxonomy_file import write_taxonomy
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.errors import ConfigError
from shells import run_tool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "customer-support" / "taxonomy.yaml"


@pytest.fixture
def study(tmp_path: Path) -> Study:
    init_study(tmp_path / "s", domain="customer support")
    return Study.open(tmp_path / "s")


def test_a_written_taxonomy_loads_back_as_given_with_comments_and_coverage(study: Study) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    result = write_taxonomy(study, data)
    text = study.paths.taxonomy_yaml.read_text(encoding="utf-8")
    assert text.startswith("# taxonomy.yaml") and "\n# What users bring" in text
    assert load_taxonomy(study.paths.taxonomy_yaml) == load_taxonomy(EXAMPLE)
    assert result.topics == 8 and result.coverage.topics == (8, 8) and result.n == 50
    assert "plan_scenarios" in result.next_action


def test_an_invalid_taxonomy_fails_as_the_file_would_and_writes_nothing(study: Study) -> None:
    data = {"topics": [{"name": "billing"}, {"name": "Billing"}]}
    with pytest.raises(ConfigError, match=r"taxonomy\.yaml: topics \(line \d+\): .*'Billing' is listed twice"):
        write_taxonomy(study, data)
    assert not study.paths.taxonomy_yaml.exists()


def test_write_taxonomy_tool_takes_structured_arguments(study: Study) -> None:
    result = run_tool(
        "write_taxonomy",
        {
            "study": str(study.root),
            "topics": [
                {"name": "billing", "subtopics": [{"name": "refunds", "examples": ["money back?"]}]},
                {"name": "login", "weight": 2},
            ],
            "edge_cases": [{"name": "off-topic"}],
        },
    )
    assert not result.is_error, result.content
    assert result.structured_content["topics"] == 2 and result.structured_content["edge_cases"] == ["off-topic"]
    assert [t.name for t in load_taxonomy(study.paths.taxonomy_yaml).topics] == ["billing", "login"]
    refused = run_tool("write_taxonomy", {"study": str(study.root), "topics": [{"name": "a\nb"}]})
    assert refused.is_error and "single line" in refused.content[0].text
