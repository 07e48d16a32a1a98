"""The judged items of one run and every judge's verdicts on them.

An *item* is one (latest response, rubric criterion) pair. Its key is bound to the response and the criterion's
full text, so editing either makes the item new (pending) for every judge. Agents and people file their
verdicts under the item key; an LLM judge files them under the key of its request (its build, the exact prompt,
the options), which it keeps in its judge record (`results.py`). Every judge reads its work from here, so "all
judged" means the same thing whoever judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from base_model_selector.baseline.run import latest_responses, read_scenarios
from base_model_selector.judging import judges
from base_model_selector.judging.llm_judge import Pair
from base_model_selector.judging.rubric import Criterion, Rubric, load_rubric
from base_model_selector.serving.engine import request_key
from base_model_selector.serving.pull import model_under_test
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StepNotReady, cli_command
from base_model_selector.study.types import CriterionVerdict

ITEM_TAG = "agent"  # kept from the first version, so verdicts recorded then still find their items


@dataclass
class Inputs:
    """What step 6 judges: the rubric and each scenario with its latest response."""

    model: str
    rubric: Rubric
    pairs: list[Pair]
    warnings: list[str] = field(default_factory=list)


def load_inputs(study: Study, model: str | None = None) -> Inputs:
    """The rubric and (scenario, latest response) pairs, or StepNotReady naming the step to run first."""
    tag = model_under_test(study, model)
    rubric = load_rubric(study.paths.rubric_yaml)
    scenarios, warnings = read_scenarios(study)
    responses = latest_responses(study, tag)
    if not responses:
        raise StepNotReady(
            f"{study.paths.responses(tag)}: no baseline responses for {tag} yet; run step 5 first",
            Fix(
                "run_baseline", cli_command(study.root, f"run --model {tag}"), {"study": str(study.root), "model": tag}
            ),
        )
    pairs = [Pair(s, responses[s.id]) for s in scenarios if s.id in responses]
    orphans = sorted(set(responses) - {s.id for s in scenarios})
    if orphans:
        warnings.append(
            f"{len(orphans)} responses answer scenarios no longer in {study.paths.scenarios.name} "
            f"({', '.join(orphans[:5])}); they are not assessed"
        )
    unanswered = len(scenarios) - len(pairs)
    if unanswered:
        warnings.append(f"{unanswered} scenarios have no response yet; finish step 5 to include them")
    return Inputs(tag, rubric, pairs, warnings)


@dataclass(frozen=True)
class Item:
    """One (response, criterion) to judge: `key` binds it to both texts, `id` is what a judge passes back."""

    pair: Pair
    criterion: Criterion
    key: str

    @property
    def id(self) -> str:
        return f"{self.pair.scenario.id}:{self.criterion.id}:{self.key[:8]}"

    @property
    def where(self) -> tuple[str, str]:
        return self.pair.scenario.id, self.criterion.id


def item_key(pair: Pair, criterion: Criterion) -> str:
    """Bound to the response and the criterion's full text: changing either makes the item pending again."""
    return request_key(None, pair.response.key, criterion.model_dump(mode="json"), ITEM_TAG)


def items(inputs: Inputs) -> list[Item]:
    """Every item, in scenario order, criteria in rubric order."""
    return [Item(pair, c, item_key(pair, c)) for pair in inputs.pairs for c in inputs.rubric.criteria]


KeyMap = Mapping[tuple[str, str], str]
"""(scenario ID, criterion ID) → the key an LLM judge's verdict on that item is stored under."""


@dataclass
class VerdictStore:
    """Every verdict of a run (verdicts.jsonl), indexed the two ways judges file them; a later line wins."""

    by_request: dict[str, CriterionVerdict] = field(default_factory=dict)  # LLM judges: request key → verdict
    by_judge: dict[str, dict[str, CriterionVerdict]] = field(default_factory=dict)  # agent/person → item key → v
    people: dict[str, CriterionVerdict] = field(default_factory=dict)  # item key → the latest person's verdict
    count: dict[str, int] = field(default_factory=dict)  # identity → verdict lines

    @classmethod
    def read(cls, study: Study, model: str) -> VerdictStore:
        store = cls()
        store.add(study.read_jsonl(study.paths.verdicts(model), CriterionVerdict).records)
        return store

    def add(self, records: Iterable[CriterionVerdict]) -> None:
        for v in records:
            self.count[v.judge] = self.count.get(v.judge, 0) + 1
            if judges.kind(v.judge) == "llm":
                self.by_request[v.key] = v
                continue
            self.by_judge.setdefault(v.judge, {})[v.key] = v
            if judges.kind(v.judge) == "human":
                self.people[v.key] = v

    def verdicts_of(
        self, identity: str, all_items: list[Item], keys: KeyMap | None = None
    ) -> dict[str, CriterionVerdict]:
        """Item key → this judge's current verdict, for the items it has judged (LLM judges need their key map)."""
        if judges.kind(identity) == "llm":
            found = {i.key: self.by_request.get((keys or {}).get(i.where, "")) for i in all_items}
            return {k: v for k, v in found.items() if v is not None}
        mine = self.by_judge.get(identity, {})
        return {i.key: mine[i.key] for i in all_items if i.key in mine}

    def recording_judges(self) -> list[str]:
        """Agents and people that have recorded verdicts in this run."""
        return sorted(self.by_judge)
