"""rubric.yaml: what "a good response" means for a study, written by a person and validated strictly.

The pass rate decides whether someone spends weeks fine-tuning, so the rubric that produces it must say exactly
what it means: weighted categories, YES/NO/NA criteria (some where NA is a failure, some that are safety gates),
deterministic checks (regex, length, JSON) and the pass threshold. A typo here would silently change every
verdict, so every problem is an error naming the key path and the line, with the fix.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from base_model_selector.study.errors import ConfigError, Fix
from base_model_selector.study.yamlfile import format_validation_error, line_of, parse_yaml_text, read_config_text

ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$"
WEIGHT_TOLERANCE = 1e-6

CheckType = Literal["regex_must", "regex_must_not", "min_words", "max_words", "contains", "valid_json", "json_schema"]
# Which parameter each check type needs (and the only one it accepts).
CHECK_PARAMETER: dict[str, str | None] = {
    "regex_must": "pattern",
    "regex_must_not": "pattern",
    "min_words": "words",
    "max_words": "words",
    "contains": "text",
    "valid_json": None,
    "json_schema": "schema",
}
_CHECK_PARAMETERS = ("pattern", "words", "text", "schema")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalibrationExample(Strict):
    """A worked example shown to the judge: how this criterion is answered for a concrete response."""

    type: Literal["PASS", "FAIL", "BORDERLINE"]
    context: str = Field(default="", description="The user's message (scenario) the response answers")
    response: str = Field(min_length=1)
    reasoning: str = Field(min_length=1, description="Why the criterion is met or not, as the judge should argue")


class Criterion(Strict):
    """One question a judge answers YES / NO / NA about a response."""

    id: str = Field(pattern=ID_PATTERN, description="Short stable ID such as CQ1")
    category: str
    question: str = Field(min_length=3, description="Answerable with YES, NO or NA")
    na_invalid: bool = Field(default=False, description="NA counts as a failure (the question always applies)")
    safety_gate: bool = Field(default=False, description="A NO, ERROR or invalid NA fails the whole response")
    fail_examples: list[str] = Field(default_factory=list, description="Short descriptions of failing responses")
    calibration_examples: list[CalibrationExample] = Field(default_factory=list)


class Check(Strict):
    """A deterministic test of the response text, reported like a criterion (YES = met, NO = not met)."""

    id: str = Field(pattern=ID_PATTERN)
    type: CheckType
    category: str | None = Field(default=None, description="Category it scores in; None = a gate only")
    gate: bool = Field(default=False, description="Failing it fails the whole response")
    description: str = ""
    pattern: str | None = Field(default=None, description="regex_must / regex_must_not: a Python regex")
    words: int | None = Field(default=None, ge=0, description="min_words / max_words: the word limit")
    text: str | None = Field(default=None, min_length=1, description="contains: the text that must appear")
    ignore_case: bool = Field(default=False, description="regex and contains: match case-insensitively")
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema", description="json_schema: the schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _parameters(self) -> Check:
        needed = CHECK_PARAMETER[self.type]
        values = {
            "pattern": self.pattern,
            "words": self.words,
            "text": self.text,
            "schema": self.json_schema,
        }
        if needed is not None and values[needed] is None:
            raise ValueError(f"a {self.type} check needs `{needed}`")
        extra = [name for name in _CHECK_PARAMETERS if name != needed and values[name] is not None]
        if extra:
            raise ValueError(f"a {self.type} check does not use `{'`, `'.join(extra)}`; remove it")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regex ({err})") from err
        if self.json_schema is not None:
            _check_schema(self.json_schema)
        return self

    def describe(self) -> str:
        """A one-line, human-readable statement of what the check requires."""
        if self.description:
            return self.description
        case = " (ignoring case)" if self.ignore_case else ""
        return {
            "regex_must": f"matches the regex {self.pattern!r}{case}",
            "regex_must_not": f"does not match the regex {self.pattern!r}{case}",
            "min_words": f"has at least {self.words} words",
            "max_words": f"has at most {self.words} words",
            "contains": f"contains {self.text!r}{case}",
            "valid_json": "is valid JSON",
            "json_schema": "is JSON valid for the rubric's schema",
        }[self.type]


def _check_schema(schema: dict[str, Any]) -> None:
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as err:
        raise ValueError(f"schema is not a valid JSON schema ({err.message})") from err


@dataclass(frozen=True)
class Item:
    """A criterion or a check, as the scoring rule sees it."""

    id: str
    category: str | None
    gate: bool
    na_invalid: bool
    is_check: bool


class Rubric(Strict):
    """The whole rubric. Cross-field rules (unique IDs, known categories, weights) are in `problems()`."""

    name: str = ""
    description: str = ""
    categories: dict[str, float] = Field(min_length=1, description="Category name → weight; weights sum to 1")
    criteria: list[Criterion] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    pass_threshold: float = Field(default=0.80, ge=0, le=1)

    @field_validator("categories")
    @classmethod
    def _weights(cls, categories: dict[str, float]) -> dict[str, float]:
        for name, weight in categories.items():
            if not str(name).strip():
                raise ValueError("a category name is empty")
            if not 0 <= weight <= 1:
                raise ValueError(f"weight of {name!r} is {weight}; weights are between 0 and 1")
        return categories

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Rubric:
        # load_rubric reports these itself, with line numbers; everyone else gets them here.
        if not (info.context or {}).get("defer_cross_checks"):
            problems = self.problems()
            if problems:
                raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        return self

    # --------------------------------------------------------------------- derived views
    def items(self) -> list[Item]:
        """Criteria then checks, in file order: the unit every verdict and score is about."""
        out = [Item(c.id, c.category, c.safety_gate, c.na_invalid, False) for c in self.criteria]
        out += [Item(k.id, k.category, k.gate, False, True) for k in self.checks]
        return out

    def item(self, item_id: str) -> Item:
        for item in self.items():
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    # --------------------------------------------------------------------- validation
    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every cross-field problem as (key path, message with the fix)."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        total = sum(self.categories.values())
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            weights = ", ".join(f"{k}={v}" for k, v in self.categories.items())
            out.append((("categories",), f"weights sum to {total:.6g} ({weights}); make them sum to 1"))
        known = ", ".join(self.categories)
        seen: dict[str, str] = {}
        used: set[str] = set()
        entries: list[tuple[str, int, Criterion | Check]] = [("criteria", i, c) for i, c in enumerate(self.criteria)]
        entries += [("checks", i, k) for i, k in enumerate(self.checks)]
        for section, index, entry in entries:
            where = f"{section}.{index}"
            if entry.id in seen:
                out.append(
                    ((section, index, "id"), f"ID {entry.id!r} is already used by {seen[entry.id]}; IDs must be unique")
                )
            else:
                seen[entry.id] = where
            if entry.category is not None:
                if entry.category not in self.categories:
                    out.append(((section, index, "category"), f"unknown category {entry.category!r}; known: {known}"))
                used.add(entry.category)
            elif isinstance(entry, Check) and not entry.gate:
                out.append(
                    (
                        (section, index),
                        f"check {entry.id!r} has no category and is not a gate; add `category: <name>` or `gate: true`",
                    )
                )
        for name in self.categories:
            if name not in used:
                out.append((("categories", name), f"category {name!r} has no criterion or check; add one or remove it"))
        if not self.criteria and not self.checks:
            out.append((("criteria",), "the rubric has no criteria and no checks; add at least one"))
        return out


def load_rubric(path: Path, *, label: str | None = None) -> Rubric:
    """Read and validate rubric.yaml; every problem is reported as `file: key.path (line N): message`."""
    name = label or str(path)
    text = read_config_text(
        path,
        shown=name,
        expected="a rubric.yaml file",
        missing_hint="; write the rubric (its format: README 'Step 6')",
        fixes=(
            Fix(
                "write_rubric",
                "write it by hand, or copy one from an example study "
                "(`base-model-selector init /tmp/example --example customer-support` writes a complete one)",
                {"study": str(path.parent), "categories": {"<category>": 1.0}, "criteria": ["..."]},
            ),
        ),
    )
    return _parsed(text, name).model_copy(deep=True)


@functools.lru_cache(maxsize=8)
def _parsed(text: str, name: str) -> Rubric:
    """Parsing YAML with line numbers is slow (0.1 s for a 16-criterion rubric) and a run reads one rubric
    several times: the same text is parsed once per process (callers get a copy)."""
    return parse_rubric(text, name=name)


def parse_rubric(text: str, *, name: str = "rubric.yaml") -> Rubric:
    data, root = parse_yaml_text(text, name)
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: the top level must be a mapping with categories, criteria and checks")
    try:
        rubric = Rubric.model_validate(data, context={"defer_cross_checks": True})
    except ValidationError as err:
        raise ConfigError(format_validation_error(name, err, root)) from err
    problems = rubric.problems()
    if problems:
        lines = []
        for loc, msg in problems:
            line = line_of(root, loc)
            where = f" (line {line})" if line else ""
            lines.append(f"{name}: {'.'.join(map(str, loc))}{where}: {msg}")
        raise ConfigError("\n".join(lines))
    return rubric
