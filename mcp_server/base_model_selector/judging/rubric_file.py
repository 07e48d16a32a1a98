"""Write rubric.yaml from structured arguments, for an agent that has no file tools.

The rubric decides every verdict, so the file stays the person's: commented YAML they can read and change, and
checked by the very parser that loads it (`parse_rubric`: the same schema, the same cross-checks on IDs,
categories and weights, the same messages with key paths and lines). The result summarises the rubric the way a
reviewer reads it: categories and weights, gates, criteria that always apply, and what is missing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from base_model_selector.judging.rubric import parse_rubric
from base_model_selector.study.directory import Study
from base_model_selector.study.yamlfile import commented_yaml

HEADER = """\
# rubric.yaml — what a good response means for this study (step 6). Each criterion is a YES/NO/NA question a
# judge answers about ONE response; checks are deterministic tests of the text. A response passes when its
# weighted score reaches pass_threshold and no safety gate failed. Edit freely; assess re-validates it.
"""

SECTIONS: dict[str, str] = {
    "name": "",
    "description": "",
    "categories": "Category → weight; the weights sum to 1.",
    "pass_threshold": "A response passes at or above this weighted score (and with no failed gate).",
    "criteria": (
        "Questions answered YES / NO / NA. na_invalid: NA counts as a failure (the question always applies).\n"
        "# safety_gate: a NO fails the whole response. calibration_examples teach the judge (PASS, FAIL, BORDERLINE)."
    ),
    "checks": "Deterministic checks (regex_must, regex_must_not, min_words, max_words, contains, valid_json, "
    "json_schema).",
}


class RubricWritten(BaseModel):
    """What write_rubric wrote, summarised for a reviewer."""

    path: str
    categories: dict[str, float]
    criteria: list[str] = Field(description="Criterion IDs, in file order")
    checks: list[str]
    safety_gates: list[str] = Field(description="Criteria and checks that fail a response on their own")
    na_invalid: list[str] = Field(description="Criteria that always apply (NA fails)")
    pass_threshold: float
    warnings: list[str] = Field(default_factory=list)
    next_action: str

    def summary(self) -> str:
        weights = ", ".join(f"{k} {v:g}" for k, v in self.categories.items())
        lines = [
            f"Wrote {self.path}: {len(self.criteria)} criteria, {len(self.checks)} checks; categories {weights}; "
            f"pass threshold {self.pass_threshold:g}.",
            f"Safety gates: {', '.join(self.safety_gates) or 'none'}. "
            f"Always apply: {', '.join(self.na_invalid) or 'none'}.",
        ]
        lines += [f"Warning: {w}" for w in self.warnings]
        lines.append(f"Next: {self.next_action}")
        return "\n".join(lines)


def write_rubric(study: Study, data: dict[str, Any]) -> RubricWritten:
    """Validate `data` exactly as rubric.yaml is loaded, write it as commented YAML, and summarise it."""
    path = study.paths.rubric_yaml
    text = commented_yaml(HEADER, SECTIONS, data)
    rubric = parse_rubric(text, name=str(path))
    with study.locked("writing rubric.yaml"):
        study.write_text(path, text)
    uncalibrated = [c.id for c in rubric.criteria if not c.calibration_examples]
    warnings = (
        [f"no calibration examples for {', '.join(uncalibrated)}: one PASS and one FAIL each make the judge steadier"]
        if uncalibrated
        else []
    )
    if not any(c.safety_gate for c in rubric.criteria) and not any(k.gate for k in rubric.checks):
        warnings.append("no safety gate: a response can pass while doing something unacceptable")
    return RubricWritten(
        path=str(path),
        categories=rubric.categories,
        criteria=[c.id for c in rubric.criteria],
        checks=[k.id for k in rubric.checks],
        safety_gates=[c.id for c in rubric.criteria if c.safety_gate] + [k.id for k in rubric.checks if k.gate],
        na_invalid=[c.id for c in rubric.criteria if c.na_invalid],
        pass_threshold=rubric.pass_threshold,
        warnings=warnings,
        next_action="run the baseline (MCP run_baseline, CLI `run`), then assess the responses",
    )
