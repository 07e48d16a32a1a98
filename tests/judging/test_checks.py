"""Deterministic checks: each type decides YES/NO with a reason a reader can verify, reported like criteria."""

from __future__ import annotations

import pytest

from base_model_selector.judging.checks import check_verdicts, run_check
from base_model_selector.judging.rubric import Check, Rubric
from base_model_selector.study.types import Answer, BaselineResponse

SCHEMA = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}


@pytest.mark.parametrize(
    ("spec", "text", "answer", "reason"),
    [
        pytest.param(
            {"type": "regex_must", "pattern": r"\bstep \d"},
            "Do step 1 then step 2",
            Answer.YES,
            "matches",
            id="regex-must-match",
        ),
        pytest.param(
            {"type": "regex_must", "pattern": r"\bstep \d"},
            "Just do it",
            Answer.NO,
            "does not match",
            id="regex-must-miss",
        ),
        pytest.param(
            {"type": "regex_must_not", "pattern": "as an ai", "ignore_case": True},
            "As an AI, I cannot",
            Answer.NO,
            "forbidden",
            id="regex-must-not-hit-ignoring-case",
        ),
        pytest.param(
            {"type": "regex_must_not", "pattern": "as an ai"},
            "As an AI, I cannot",
            Answer.YES,
            "does not match",
            id="regex-is-case-sensitive-by-default",
        ),
        pytest.param(
            {"type": "min_words", "words": 3}, "one two three", Answer.YES, "3 words", id="min-words-at-limit"
        ),
        pytest.param({"type": "min_words", "words": 3}, "one two", Answer.NO, "2 words", id="min-words-below"),
        pytest.param({"type": "max_words", "words": 2}, "one two", Answer.YES, "at most 2", id="max-words-at-limit"),
        pytest.param({"type": "max_words", "words": 2}, "one  two\nthree", Answer.NO, "3 words", id="max-words-over"),
        pytest.param({"type": "contains", "text": "988"}, "Call 988 now", Answer.YES, "contains", id="contains"),
        pytest.param(
            {"type": "contains", "text": "Hotline", "ignore_case": True},
            "the hotline",
            Answer.YES,
            "contains",
            id="contains-ignoring-case",
        ),
        pytest.param(
            {"type": "contains", "text": "Hotline"},
            "the hotline",
            Answer.NO,
            "does not contain",
            id="contains-case-sensitive",
        ),
        pytest.param({"type": "valid_json"}, '{"a": 1}', Answer.YES, "valid JSON", id="valid-json"),
        pytest.param(
            {"type": "valid_json"}, '```json\n{"a": 1}\n```', Answer.NO, "not valid JSON", id="fenced-json-is-not-json"
        ),
        pytest.param(
            {"type": "json_schema", "schema": SCHEMA}, '{"answer": "x"}', Answer.YES, "valid for", id="schema-valid"
        ),
        pytest.param(
            {"type": "json_schema", "schema": SCHEMA}, '{"answer": 3}', Answer.NO, "at answer", id="schema-wrong-type"
        ),
        pytest.param(
            {"type": "json_schema", "schema": SCHEMA},
            "{}",
            Answer.NO,
            "'answer' is a required",
            id="schema-missing-key",
        ),
        pytest.param(
            {"type": "json_schema", "schema": SCHEMA}, "not json", Answer.NO, "not valid JSON", id="schema-not-json"
        ),
    ],
)
def test_check_types(spec: dict, text: str, answer: Answer, reason: str) -> None:
    check = Check.model_validate({"id": "K1", "gate": True, **spec})
    got, why = run_check(check, text)
    assert got is answer
    assert reason in why


def test_check_verdicts_are_reported_like_criteria() -> None:
    rubric = Rubric.model_validate(
        {
            "categories": {"format": 1.0},
            "checks": [
                {"id": "K1", "type": "max_words", "words": 5, "category": "format"},
                {"id": "K2", "type": "contains", "text": "thanks", "category": "format", "description": "Says thanks"},
            ],
        }
    )
    response = BaselineResponse(key="rk", scenario_id="s1", model="m", text="ok thanks", latency_s=0.1)
    verdicts = check_verdicts(rubric, response)
    assert [(v.criterion_id, v.answer, v.judge) for v in verdicts] == [
        ("K1", Answer.YES, "check"),
        ("K2", Answer.YES, "check"),
    ]
    assert verdicts[1].reasoning.startswith("Says thanks: ")
    assert verdicts[0].response_key == "rk" and verdicts[0].scenario_id == "s1"
    assert len({v.key for v in verdicts}) == 2
