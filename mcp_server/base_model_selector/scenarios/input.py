"""Scenarios supplied directly: by the agent (a list) or from a file in the study (JSONL, JSON, CSV or YAML).

Real user messages from logs are the best scenarios there are, and an agent without a local generator can write
them itself; either way they go through the same gate as generated ones. Each is tagged with its taxonomy cell
(checked against taxonomy.yaml when there is one, or taken from the plan slot it fills), gets the same stable ID,
and is rejected as a near-duplicate of anything already accepted. Invalid input is refused as a whole with every
problem listed, so nothing is half-added; duplicates are skipped and reported.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from base_model_selector.scenarios.generate import dedup_index, existing_scenarios
from base_model_selector.scenarios.plan import ScenarioPlan
from base_model_selector.scenarios.taxonomy import Taxonomy, load_taxonomy
from base_model_selector.scenarios.text import MAX_SCENARIO_CHARS, scenario_id
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import Scenario

if TYPE_CHECKING:
    pass

MAX_ITEMS = 2000
MAX_PROBLEMS_SHOWN = 20
FIELDS = ("text", "topic", "subtopic", "style", "edge_case", "persona", "slot")


class ScenarioInput(BaseModel):
    """One scenario to add: the user's opening message and its taxonomy cell (or the plan slot it fills)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=MAX_SCENARIO_CHARS, description="The user's opening message")
    topic: str | None = Field(default=None, description="Taxonomy topic (required unless `slot` is given)")
    subtopic: str | None = None
    style: str | None = None
    edge_case: str | None = None
    persona: str | None = None
    slot: str | None = Field(default=None, description="A slot ID from plan_scenarios; its cell tags are used")


class Rejected(BaseModel):
    index: int = Field(description="0-based position in the input")
    text: str = Field(description="The start of the text")
    reason: str
    duplicate_of: str | None = None


class AddResult(BaseModel):
    added: list[str] = Field(description="IDs of the scenarios added")
    rejected: list[Rejected] = Field(default_factory=list)
    scenarios_total: int
    path: str
    warnings: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"Added {len(self.added)} scenarios, rejected {len(self.rejected)}; {self.scenarios_total} in {self.path}"
        ]
        lines += [f"  rejected #{r.index} ({r.reason}): {r.text}" for r in self.rejected[:10]]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def add_scenarios(
    study: Study, items: list[dict[str, Any]] | list[ScenarioInput] | None = None, path: Path | None = None
) -> AddResult:
    """Validate, tag, de-duplicate and append supplied scenarios; all-or-nothing on invalid input.

    `path` is read where it is: the shell that was given it decides where a caller may read from (a person on
    the CLI anywhere; an agent over MCP inside the study or its working directory).
    """
    if (items is None) == (path is None):
        raise ConfigError("add_scenarios needs either `items` (a list of scenarios) or `path` (a file), not both")
    origin: Literal["agent", "file"] = "agent" if path is None else "file"
    source = "items" if path is None else str(path)
    raw = list(items or []) if path is None else load_scenario_file(path)
    if not raw:
        raise ConfigError(f"{source}: no scenarios given; pass at least one {{text, topic}}")
    if len(raw) > MAX_ITEMS:
        raise ConfigError(f"{source}: {len(raw)} scenarios is more than {MAX_ITEMS} at once; split the input")
    taxonomy = load_taxonomy(study.paths.taxonomy_yaml) if study.paths.taxonomy_yaml.exists() else None
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    inputs, problems = _validate(raw, taxonomy, plan)
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ConfigError(
            f"{source}: nothing was added; fix these and retry:\n" + "\n".join(f"  {p}" for p in shown) + more
        )
    warnings = [] if taxonomy else [f"{study.paths.taxonomy_yaml} not found: cell tags were not checked"]
    with study.locked("add scenarios"):
        existing = existing_scenarios(study)
        index = dedup_index(existing)
        filled = {s.slot: s.id for s in existing if s.slot}
        accepted: list[Scenario] = []
        rejected: list[Rejected] = []
        for i, item in enumerate(inputs):
            preview = item.text[:80]
            if item.slot and item.slot in filled:
                rejected.append(
                    Rejected(
                        index=i,
                        text=preview,
                        reason=f"slot {item.slot} is already filled",
                        duplicate_of=filled[item.slot],
                    )
                )
                continue
            duplicate = index.duplicate_of(item.text)
            if duplicate:
                rejected.append(Rejected(index=i, text=preview, reason="near-duplicate", duplicate_of=duplicate))
                continue
            sid = scenario_id(item.topic or "", item.subtopic, item.style, item.edge_case, item.text)
            index.add(sid, item.text)
            if item.slot:
                filled[item.slot] = sid
            accepted.append(
                Scenario(
                    id=sid,
                    text=item.text,
                    topic=item.topic or "",
                    subtopic=item.subtopic,
                    style=item.style,
                    edge_case=item.edge_case,
                    persona=item.persona,
                    origin=origin,
                    slot=item.slot,
                )
            )
        study.append(study.paths.scenarios, accepted)
    return AddResult(
        added=[s.id for s in accepted],
        rejected=rejected,
        scenarios_total=len(existing) + len(accepted),
        path=str(study.paths.scenarios),
        warnings=warnings,
    )


def _validate(
    raw: list[Any], taxonomy: Taxonomy | None, plan: ScenarioPlan | None
) -> tuple[list[ScenarioInput], list[str]]:
    """Parse every item and resolve its tags to the taxonomy's spelling; collect every problem."""
    slots = {s.slot: s for s in plan.slots} if plan else {}
    out: list[ScenarioInput] = []
    problems: list[str] = []
    for i, entry in enumerate(raw):
        where = f"#{i}"
        try:
            item = entry if isinstance(entry, ScenarioInput) else ScenarioInput.model_validate(entry)
        except ValidationError as err:
            for e in err.errors():
                field = ".".join(str(p) for p in e["loc"]) or "(item)"
                msg = (
                    "unknown field (a typo?); use " + ", ".join(FIELDS) if e["type"] == "extra_forbidden" else e["msg"]
                )
                problems.append(f"{where}.{field}: {msg}")
            continue
        try:
            out.append(_resolve(item, taxonomy, slots))
        except ValueError as err:
            problems.append(f"{where}: {err}")
    return out, problems


def _resolve(item: ScenarioInput, taxonomy: Taxonomy | None, slots: dict[str, Any]) -> ScenarioInput:
    tags = ("topic", "subtopic", "style", "edge_case", "persona")
    if item.slot:
        slot = slots.get(item.slot)
        if slot is None:
            raise ValueError(f"slot {item.slot!r} is not in scenarios/plan.json; run plan_scenarios and use its IDs")
        for tag in tags:
            given, planned = getattr(item, tag), getattr(slot, tag)
            if given is not None and given != planned:
                raise ValueError(f"{tag} {given!r} disagrees with slot {item.slot} ({planned!r}); omit it")
        return item.model_copy(update={tag: getattr(slot, tag) for tag in tags})
    if not item.topic:
        raise ValueError("`topic` is required (or give the `slot` it fills)")
    if taxonomy is None:
        return item
    try:
        topic = taxonomy.topic(item.topic).name
        update: dict[str, Any] = {"topic": topic}
        if item.subtopic:
            update["subtopic"] = taxonomy.subtopic(topic, item.subtopic).name
        if item.style:
            update["style"] = taxonomy.style(item.style).name
        if item.edge_case:
            update["edge_case"] = taxonomy.edge_case(item.edge_case).name
        if item.persona:
            update["persona"] = taxonomy.persona(item.persona).name
    except KeyError as err:
        raise ValueError(f"{err.args[0]} (names from taxonomy.yaml)") from None
    return item.model_copy(update=update)


# --------------------------------------------------------------------------- files
def load_scenario_file(path: Path) -> list[Any]:
    """The items of a JSONL, JSON, CSV or YAML file: a list of {text, topic, ...} mappings."""
    import yaml  # lazily: the MCP server starts without it

    if not path.is_file():
        raise ConfigError(f"{path}: not found (give a file inside the study directory)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err})") from err
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl(path, text)
    if suffix == ".json":
        return _listed(path, _parse(path, lambda: json.loads(text)))
    if suffix in (".yaml", ".yml"):
        return _listed(path, _parse(path, lambda: yaml.safe_load(text)))
    if suffix == ".csv":
        return _csv(path, text)
    raise ConfigError(f"{path}: unknown format {suffix or '(no suffix)'!r}; use .jsonl, .json, .csv, .yaml or .yml")


def _parse(path: Path, load: Any) -> Any:
    import yaml  # lazily: the MCP server starts without it

    try:
        return load()
    except (ValueError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot be parsed ({str(err).splitlines()[0]})") from err


def _listed(path: Path, data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
        data = data["scenarios"]
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of scenarios (or a mapping with a `scenarios:` list)")
    return data


def _jsonl(path: Path, text: str) -> list[Any]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as err:
            raise ConfigError(f"{path}: line {number} is not valid JSON ({err}); fix it and retry") from err
    return out


def _csv(path: Path, text: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if "text" not in header:
        raise ConfigError(f"{path}: the CSV needs a header row with a `text` column (and topic, subtopic, ...)")
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        raise ConfigError(f"{path}: unknown CSV columns {unknown}; use {', '.join(FIELDS)}")
    return [
        {k.strip(): (v if v.strip() else None) for k, v in row.items() if k is not None and v is not None}
        for row in reader
    ]
