"""rubric.yaml validation: a typo or an inconsistent rubric is an error naming the key path, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from base_model_selector.judging.rubric import Rubric, load_rubric, parse_rubric
from base_model_selector.study.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rubrics"

MINIMAL = """\
categories:
  quality: 1.0
criteria:
  - id: Q1
    category: quality
    question: Is it right?
"""


def test_the_fixture_rubric_loads_with_criteria_checks_and_defaults() -> None:
    rubric = load_rubric(FIXTURES / "support.yaml")
    assert [i.id for i in rubric.items()] == ["CQ1", "CQ2", "TN1", "SF1", "FM1", "FM2"]
    assert rubric.criterion("CQ1").calibration_examples[1].type == "FAIL"
    assert rubric.item("SF1").gate and rubric.item("SF1").na_invalid
    assert rubric.item("FM2").gate and rubric.item("FM2").category is None
    assert rubric.pass_threshold == 0.8


def test_pass_threshold_defaults_to_080() -> None:
    assert parse_rubric(MINIMAL).pass_threshold == 0.80


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            MINIMAL.replace("quality: 1.0", "quality: 0.6\n  tone: 0.3")
            + "  - id: T1\n    category: tone\n    question: Polite?\n",
            ["categories (line 2)", "weights sum to 0.9", "make them sum to 1"],
            id="weights-not-summing-to-one",
        ),
        pytest.param(
            MINIMAL + "  - id: Q1\n    category: quality\n    question: Again?\n",
            ["criteria.1.id (line 7)", "'Q1' is already used by criteria.0"],
            id="duplicate-criterion-id",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: Q1\n    type: valid_json\n    category: quality\n",
            ["checks.0.id (line 8)", "already used"],
            id="check-id-clashes-with-criterion",
        ),
        pytest.param(
            MINIMAL.replace("category: quality", "category: qualty"),
            ["criteria.0.category (line 5)", "unknown category 'qualty'; known: quality"],
            id="unknown-category",
        ),
        pytest.param(
            MINIMAL.replace("quality: 1.0", "quality: 0.5\n  tone: 0.5"),
            ["categories.tone (line 3)", "category 'tone' has no criterion or check"],
            id="category-without-criteria",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: K1\n    type: valid_json\n",
            ["checks.0 (line 8)", "no category and is not a gate", "gate: true"],
            id="check-neither-scored-nor-gate",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: K1\n    type: max_words\n    gate: true\n",
            ["checks.0 (line 8)", "a max_words check needs `words`"],
            id="check-missing-its-parameter",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: K1\n    type: contains\n    text: x\n    words: 3\n    gate: true\n",
            ["checks.0", "does not use `words`"],
            id="check-with-a-foreign-parameter",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: K1\n    type: regex_must\n    pattern: '(unclosed'\n    gate: true\n",
            ["checks.0", "not a valid regex"],
            id="bad-regex",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: K1\n    type: json_schema\n    schema: {type: 12}\n    gate: true\n",
            ["checks.0", "not a valid JSON schema"],
            id="bad-json-schema",
        ),
        pytest.param(
            MINIMAL + "checks:\n  - id: K1\n    type: word_limit\n    gate: true\n",
            ["checks.0.type (line 9)", "regex_must"],
            id="unknown-check-type",
        ),
        pytest.param(
            MINIMAL.replace("question: Is it right?", "question: Is it right?\n    safety_gte: true"),
            ["criteria.0.safety_gte (line 7)", "unknown key"],
            id="typo-in-a-key",
        ),
        pytest.param(
            MINIMAL.replace("    question: Is it right?\n", ""),
            ["criteria.0.question", "required key is missing"],
            id="missing-question",
        ),
        pytest.param(
            MINIMAL.replace("id: Q1", "id: 'has space'"),
            ["criteria.0.id (line 4)", "pattern"],
            id="id-with-spaces",
        ),
        pytest.param(
            MINIMAL + "pass_threshold: 1.5\n",
            ["pass_threshold (line 7)", "less than or equal to 1"],
            id="threshold-above-one",
        ),
        pytest.param(
            MINIMAL.replace(
                "question: Is it right?",
                "question: Is it right?\n    calibration_examples:\n      - type: GOOD\n        response: r\n"
                "        reasoning: x",
            ),
            ["criteria.0.calibration_examples.0.type (line 8)", "PASS"],
            id="bad-calibration-type",
        ),
        pytest.param("- just\n- a list\n", ["top level must be a mapping"], id="not-a-mapping"),
        pytest.param("categories: {a: 1\n", ["not valid YAML"], id="yaml-syntax"),
    ],
)
def test_invalid_rubric_is_reported_by_key_path_and_line(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rubric(text, name="rubric.yaml")
    message = str(info.value)
    assert message.startswith("rubric.yaml")
    for part in expected:
        assert part in message, message


def test_weights_within_tolerance_are_accepted() -> None:
    text = MINIMAL.replace("quality: 1.0", "quality: 0.3333333\n  tone: 0.6666668") + (
        "  - id: T1\n    category: tone\n    question: Polite?\n"
    )
    assert parse_rubric(text).categories["tone"] == pytest.approx(0.6666668)


def test_every_problem_is_reported_at_once() -> None:
    text = MINIMAL.replace("category: quality", "category: nope") + (
        "  - id: Q1\n    category: quality\n    question: Again?\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_rubric(text)
    message = str(info.value)
    assert "unknown category 'nope'" in message and "already used" in message


def test_missing_rubric_file_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; write the rubric"):
        load_rubric(tmp_path / "rubric.yaml")


def test_rubric_built_in_code_is_validated_too() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        Rubric.model_validate(
            {"categories": {"a": 1.0}, "criteria": [{"id": "X", "category": "b", "question": "Is it?"}]}
        )


def test_the_readme_rubric_example_is_valid() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:step-6 -->")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    rubric = parse_rubric(example, name="README rubric")
    assert [i.id for i in rubric.items()] == ["CQ1", "TN1", "FM1", "FM2"]
