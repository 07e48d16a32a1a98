"""taxonomy.yaml: the inputs a product will meet, written down so the baseline can cover all of them.

A baseline pass rate only means something if its scenarios look like the real traffic, edge cases included. The
taxonomy lists the topics users bring (with subtopics and example phrasings), the styles they write in, the edge
cases that must be represented (and what share of the scenarios they get) and, optionally, who the users are.
Weights are relative (any positive numbers); the plan turns them into counts. A person writes this file, so
unknown keys and inconsistent names are errors that name the key path and the line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from base_model_selector.study.errors import ConfigError, Fix
from base_model_selector.study.yamlfile import load_yaml_model

MAX_WEIGHT = 1_000_000.0
DEFAULT_EDGE_CASE_SHARE = 0.2

DEFAULT_STYLES: dict[str, str] = {
    "terse": "a few words to one short sentence, no greeting, the way people type into a search box or a "
    "chat on their phone; lowercase and missing punctuation are fine",
    "conversational": "one to four casual sentences, as in a chat with a person, with a little context",
    "detailed": "a paragraph or more giving background, specifics (numbers, names, what was already tried) "
    "and constraints",
}

Name = Field(min_length=1, max_length=120, description="Shown in reports and to the scenario generator")
Weight = Field(default=1.0, gt=0, le=MAX_WEIGHT, description="Relative weight (any positive number); default 1")


def _as_mapping(value: Any) -> Any:
    """Let a bare string stand for `{name: <string>}`, so short lists stay short."""
    return {"name": value} if isinstance(value, str) else value


class _Named(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Name
    description: str = Field(default="", max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _as_mapping(value)

    @field_validator("name")
    @classmethod
    def _one_line(cls, name: str) -> str:
        if "\n" in name or "\r" in name:
            raise ValueError("a name must be a single line; put longer text in `description`")
        return name


class Subtopic(_Named):
    weight: float = Weight
    examples: list[str] = Field(
        default_factory=list, max_length=50, description="How real users phrase it (the generator varies them)"
    )


class Topic(_Named):
    weight: float = Weight
    subtopics: list[Subtopic] = Field(default_factory=list, max_length=200)

    @field_validator("subtopics")
    @classmethod
    def _unique_subtopics(cls, subtopics: list[Subtopic]) -> list[Subtopic]:
        _require_unique([s.name for s in subtopics], "subtopic")
        return subtopics


class Style(_Named):
    weight: float = Weight

    @model_validator(mode="after")
    def _default_description(self) -> Style:
        if not self.description:
            self.description = DEFAULT_STYLES.get(self.name.lower(), "")
        return self


class EdgeCase(_Named):
    weight: float = Weight
    examples: list[str] = Field(default_factory=list, max_length=50)
    topics: list[str] | None = Field(
        default=None, description="Topics this edge case may be paired with; default: any topic"
    )
    styles: list[str] | None = Field(default=None, description="Styles it may be written in; default: any")


class Persona(_Named):
    weight: float = Weight


class Taxonomy(BaseModel):
    """The whole taxonomy. Names are unique (case-insensitive) within their list."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=4000, description="Who the users are, in a sentence or two")
    topics: list[Topic] = Field(default_factory=list, max_length=200, validate_default=True)
    styles: list[Style] = Field(default_factory=lambda: [Style(name=name) for name in DEFAULT_STYLES], max_length=50)
    edge_cases: list[EdgeCase] = Field(default_factory=list, max_length=100)
    edge_case_share: float | None = Field(
        default=None,
        ge=0,
        le=0.9,
        description=f"Share of scenarios that are edge cases; default {DEFAULT_EDGE_CASE_SHARE} when any are listed",
    )
    personas: list[Persona] = Field(default_factory=list, max_length=100)

    @field_validator("topics")
    @classmethod
    def _some_topics(cls, topics: list[Topic]) -> list[Topic]:
        if not topics:
            raise ValueError(
                "the taxonomy lists no topics; add at least one under `topics:`, each with its subtopics "
                "(see examples/customer-support/taxonomy.yaml)"
            )
        _require_unique([t.name for t in topics], "topic")
        return topics

    @field_validator("styles")
    @classmethod
    def _some_styles(cls, styles: list[Style]) -> list[Style]:
        if not styles:
            raise ValueError(
                "`styles` is empty; remove the key to use terse, conversational and detailed, or list at least one"
            )
        _require_unique([s.name for s in styles], "style")
        return styles

    @field_validator("edge_cases")
    @classmethod
    def _edge_cases(cls, edge_cases: list[EdgeCase], info: ValidationInfo) -> list[EdgeCase]:
        _require_unique([e.name for e in edge_cases], "edge case")
        # topics and styles are validated first (field order), so their names are known here.
        known = {
            "topics": {t.name for t in info.data.get("topics") or []},
            "styles": {s.name for s in info.data.get("styles") or []},
        }
        for i, case in enumerate(edge_cases):
            for field, names in (("topics", case.topics), ("styles", case.styles)):
                if names is None:
                    continue
                if not names:
                    raise ValueError(f"{i}.{field} ({case.name!r}) is empty; remove it to allow any")
                unknown = [n for n in names if n not in known[field]]
                if unknown and known[field]:
                    raise ValueError(
                        f"{i}.{field} ({case.name!r}): unknown {field} {unknown}; known: "
                        + ", ".join(sorted(known[field]))
                    )
        return edge_cases

    @field_validator("personas")
    @classmethod
    def _unique_personas(cls, personas: list[Persona]) -> list[Persona]:
        _require_unique([p.name for p in personas], "persona")
        return personas

    @model_validator(mode="after")
    def _share_needs_cases(self) -> Taxonomy:
        if self.edge_case_share and not self.edge_cases:
            raise ValueError(
                f"edge_case_share is {self.edge_case_share} but no edge_cases are listed; list them or remove "
                "edge_case_share"
            )
        return self

    # ------------------------------------------------------------------ derived views
    @property
    def share(self) -> float:
        """The effective edge-case share."""
        if not self.edge_cases:
            return 0.0
        return DEFAULT_EDGE_CASE_SHARE if self.edge_case_share is None else self.edge_case_share

    def topic(self, name: str) -> Topic:
        return _find(self.topics, name, "topic")

    def style(self, name: str) -> Style:
        return _find(self.styles, name, "style")

    def edge_case(self, name: str) -> EdgeCase:
        return _find(self.edge_cases, name, "edge case")

    def persona(self, name: str) -> Persona:
        return _find(self.personas, name, "persona")

    def subtopic(self, topic: str, name: str) -> Subtopic:
        return _find(self.topic(topic).subtopics, name, f"subtopic of {topic!r}")


def _require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        folded = name.casefold()
        if folded in seen:
            raise ValueError(f"the {what} {name!r} is listed twice; names must be unique (ignoring case)")
        seen.add(folded)


def _find(items: list[Any], name: str, what: str) -> Any:
    for item in items:
        if item.name == name:
            return item
    folded = name.casefold()
    for item in items:
        if item.name.casefold() == folded:
            return item
    known = ", ".join(repr(i.name) for i in items) or "(none)"
    raise KeyError(f"unknown {what} {name!r}; known: {known}")


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate taxonomy.yaml; a missing file says where examples are."""
    if not path.exists():
        raise ConfigError(
            f"{path}: not found; write the study's input taxonomy (its format: README 'Step 4')",
            Fix(
                "write_taxonomy",
                "write it by hand, or copy one from an example study "
                "(`base-model-selector init /tmp/example --example customer-support` writes a complete one)",
                {"study": str(path.parent), "topics": [{"name": "<topic>", "subtopics": [{"name": "<subtopic>"}]}]},
            ),
        )
    return load_yaml_model(path, Taxonomy, label=str(path))


def file_sha256(path: Path) -> str:
    """Fingerprint of the taxonomy file, so a plan knows when it was made from an older version."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
