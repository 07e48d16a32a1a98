"""The judged items of one run, shared by every judge: the rubric with each (scenario, latest response) pair,
the verdicts stored so far, and scoring them into the assessments report.

Both the LLM judge (`assessment.py`) and the agent as judge (`agent_judge.py`) read their work from here and
write the same report, so they can never disagree on what "all judged" or "passed" means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from base_model_selector.baseline.run import latest_responses, read_scenarios
from base_model_selector.judging.checks import check_verdicts
from base_model_selector.judging.llm_judge import Pair
from base_model_selector.judging.rubric import Rubric, load_rubric
from base_model_selector.judging.scoring import score_response, summarise
from base_model_selector.serving.pull import model_under_test
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StepNotReady, cli_command
from base_model_selector.study.types import Agreement, Assessment, AssessmentReport, AssessmentSummary, CriterionVerdict


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


def verdict_index(study: Study, model: str) -> dict[str, CriterionVerdict]:
    """Every stored verdict by key; a later line with the same key (a re-judge) replaces an earlier one."""
    return {v.key: v for v in study.read_jsonl(study.paths.verdicts(model), CriterionVerdict).records}


KeyFn = Callable[[Pair, str], str]
"""(pair, criterion ID) → the key of the verdict that counts for it under the current mode and settings."""


def score_all(
    inputs: Inputs, index: Mapping[str, CriterionVerdict], key_of: KeyFn
) -> tuple[list[Assessment], list[str]]:
    """Score every pair whose criteria all have a verdict; the others are returned as pending scenario IDs."""
    assessments: list[Assessment] = []
    pending: list[str] = []
    for pair in inputs.pairs:
        found = [index.get(key_of(pair, c.id)) for c in inputs.rubric.criteria]
        verdicts = [v for v in found if v is not None]
        if len(verdicts) < len(found):
            pending.append(pair.scenario.id)
            continue
        verdicts += check_verdicts(inputs.rubric, pair.response)
        assessments.append(
            score_response(inputs.rubric, verdicts, scenario_id=pair.scenario.id, response_key=pair.response.key)
        )
    return assessments, pending


def write_report(
    study: Study,
    inputs: Inputs,
    assessments: list[Assessment],
    pending: list[str],
    *,
    judge: str,
    warnings: list[str],
    agreement: Agreement | None = None,
) -> AssessmentSummary:
    summary = summarise(
        inputs.rubric, assessments, model=inputs.model, judge=judge, pending=len(pending), warnings=warnings
    )
    summary.agreement = agreement
    study.write_json(study.paths.assessments(inputs.model), AssessmentReport(summary=summary, assessments=assessments))
    return summary
