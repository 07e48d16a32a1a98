"""Deterministic checks: the parts of a rubric a regex or a parser can decide better than a judge.

Length limits, required or forbidden phrases and JSON validity cost nothing to check and never disagree with
themselves, so they run on every response in both judge modes and are reported exactly like criteria
(a `CriterionVerdict` with judge "check"): YES when the requirement is met, NO with the reason when it is not.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from base_model_selector.judging.rubric import Check, Rubric
from base_model_selector.study.types import Answer, BaselineResponse, CriterionVerdict

CHECK_JUDGE = "check"


def word_count(text: str) -> int:
    return len(text.split())


def run_check(check: Check, text: str) -> tuple[Answer, str]:
    """The answer (YES = requirement met) and a one-line reason a reader can verify."""
    flags = re.IGNORECASE if check.ignore_case else 0
    if check.type in ("regex_must", "regex_must_not"):
        assert check.pattern is not None
        match = re.search(check.pattern, text, flags)
        if check.type == "regex_must":
            if match:
                return Answer.YES, f"matches {check.pattern!r} at {match.group(0)[:80]!r}"
            return Answer.NO, f"does not match {check.pattern!r}"
        if match:
            return Answer.NO, f"matches the forbidden {check.pattern!r} at {match.group(0)[:80]!r}"
        return Answer.YES, f"does not match {check.pattern!r}"
    if check.type in ("min_words", "max_words"):
        assert check.words is not None
        count = word_count(text)
        ok = count >= check.words if check.type == "min_words" else count <= check.words
        bound = "at least" if check.type == "min_words" else "at most"
        return (Answer.YES if ok else Answer.NO), f"{count} words (needs {bound} {check.words})"
    if check.type == "contains":
        assert check.text is not None
        found = check.text.lower() in text.lower() if check.ignore_case else check.text in text
        return (Answer.YES, f"contains {check.text!r}") if found else (Answer.NO, f"does not contain {check.text!r}")
    document, problem = _parse_json(text)
    if problem is not None:
        return Answer.NO, problem
    if check.type == "valid_json":
        return Answer.YES, "is valid JSON"
    return _validate_schema(document, check.json_schema or {})


def _parse_json(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except ValueError as err:
        return None, f"not valid JSON ({err})"


def _validate_schema(document: Any, schema: dict[str, Any]) -> tuple[Answer, str]:
    from jsonschema import validators

    validator = validators.validator_for(schema)(schema)
    error = next(iter(sorted(validator.iter_errors(document), key=lambda e: list(e.path))), None)
    if error is None:
        return Answer.YES, "valid for the schema"
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return Answer.NO, f"not valid for the schema at {where}: {error.message[:200]}"


def check_fingerprint(check: Check) -> str:
    """Changes when the check's definition changes, so an edited check is re-run, not served from the log."""
    return hashlib.sha256(check.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


def check_key(response_key: str, check: Check) -> str:
    return hashlib.sha256(f"{response_key}\x1f{check.id}\x1fcheck\x1f{check_fingerprint(check)}".encode()).hexdigest()


def check_verdicts(rubric: Rubric, response: BaselineResponse) -> list[CriterionVerdict]:
    """Every check of the rubric run on one response."""
    out = []
    for check in rubric.checks:
        answer, reason = run_check(check, response.text)
        out.append(
            CriterionVerdict(
                key=check_key(response.key, check),
                scenario_id=response.scenario_id,
                response_key=response.key,
                criterion_id=check.id,
                answer=answer,
                reasoning=f"{check.describe()}: {reason}",
                judge=CHECK_JUDGE,
            )
        )
    return out
