"""taxonomy.yaml validation: defaults, shorthand, and errors that name the key path and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from base_model_selector.scenarios.taxonomy import DEFAULT_EDGE_CASE_SHARE, load_taxonomy
from base_model_selector.study.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_short_forms_and_defaults() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "sql-analyst" / "taxonomy.yaml"
    tax = load_taxonomy(path)
    assert [s.name for s in tax.styles] == ["terse", "conversational", "detailed"]
    assert tax.style("terse").description  # default descriptions filled in
    assert tax.share == 0.2


def test_styles_default_and_edge_share_defaults_when_edge_cases_are_listed(tmp_path: Path) -> None:
    tax = load_taxonomy(write(tmp_path, "topics:\n  - name: billing\n    subtopics: [refunds]\nedge_cases: [angry]\n"))
    assert [s.name for s in tax.styles] == ["terse", "conversational", "detailed"]
    assert tax.share == DEFAULT_EDGE_CASE_SHARE
    assert tax.subtopic("billing", "refunds").weight == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "no topics", id="empty-file"),
        pytest.param("topics: []\n", "no topics", id="empty-topics"),
        pytest.param(
            "topics:\n  - name: a\n    weight: -1\n",
            "topics.0.weight (line 3): Input should be greater than 0",
            id="negative-weight",
        ),
        pytest.param("topics:\n  - name: a\n    weight: 0\n", "topics.0.weight (line 3)", id="zero-weight"),
        pytest.param(
            "topics:\n  - name: a\n    subtopics:\n      - name: x\n        wieght: 2\n",
            "topics.0.subtopics.0.wieght (line 5): unknown key",
            id="typo",
        ),
        pytest.param("topics:\n  - name: a\n  - name: A\n", "listed twice", id="duplicate-topic"),
        pytest.param(
            "topics: [a]\nedge_cases:\n  - name: rude\n    topics: [b]\n",
            "edge_cases (line 3): Value error, 0.topics ('rude'): unknown topics ['b']",
            id="edge-case-unknown-topic",
        ),
        pytest.param("topics: [a]\nedge_case_share: 0.3\n", "no edge_cases are listed", id="share-without-cases"),
        pytest.param(
            "topics: [a]\nedge_cases: [x]\nedge_case_share: 1.5\n", "edge_case_share (line 3)", id="share-too-big"
        ),
        pytest.param("topics: [a]\nstyles: []\n", "`styles` is empty", id="no-styles"),
        pytest.param("topics: [a\n", "not valid YAML", id="bad-yaml"),
    ],
)
def test_bad_taxonomy_is_an_error_naming_the_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_taxonomy(write(tmp_path, text))
    assert expected in str(err.value)
    assert "taxonomy.yaml" in str(err.value)


def test_missing_taxonomy_names_the_tool_and_an_example_to_copy(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"taxonomy\.yaml: not found") as info:
        load_taxonomy(tmp_path / "taxonomy.yaml")
    assert "--example customer-support" in str(info.value)
    assert "call write_taxonomy(" in info.value.render("mcp")


def test_the_readme_taxonomy_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:step-4 -->")[1].split("<!-- /section:step-4 -->")[0]
    block = section.split("```yaml\n")[1].split("```")[0]
    tax = load_taxonomy(write(tmp_path, block))
    assert tax.subtopic("billing and subscription", "refund request").weight == 1
    assert tax.edge_case("very long message").styles == ["detailed"]
