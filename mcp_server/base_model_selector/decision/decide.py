"""Step 7: turn the assessments into a decision — pass rate, its Wilson interval, the band, and whether it is settled.

The decision (deploy after a qualitative review, fine-tune, or build the full pipeline) is what someone acts on
for weeks, so it is stated with its uncertainty: the pass rate comes with n and a 95% Wilson interval, and when
the interval straddles a threshold the decision is marked inconclusive together with how many scenarios would
settle it at the observed rate. The failure analysis (failures.py) rides along so the document can show *why*.
The result is written to runs/<model>/decision.json and is derived only from files on disk.
"""

from __future__ import annotations

import logging
from enum import Enum

from pydantic import Field

from base_model_selector.decision.failures import CriterionInfo, FailureAnalysis, analyse_failures
from base_model_selector.judging.rubric import Rubric, load_rubric
from base_model_selector.study import stats
from base_model_selector.study.config import Thresholds
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StepNotReady
from base_model_selector.study.types import (
    Answer,
    Assessment,
    AssessmentReport,
    AssessmentSummary,
    BaselineResponse,
    CriterionVerdict,
    Record,
    Scenario,
    utc_now,
)

log = logging.getLogger(__name__)


class Band(str, Enum):
    LIKELY_SUFFICIENT = "likely_sufficient"
    FINE_TUNE = "fine_tune"
    FULL_PIPELINE = "full_pipeline"


BAND_LABEL = {
    Band.LIKELY_SUFFICIENT: "Likely sufficient",
    Band.FINE_TUNE: "Fine-tune",
    Band.FULL_PIPELINE: "Full pipeline",
}
BAND_ACTION = {
    Band.LIKELY_SUFFICIENT: (
        "Review a sample of responses qualitatively and deploy the base model with the system prompt, unless "
        "specific failure modes below need a targeted fine-tune."
    ),
    Band.FINE_TUNE: (
        "The base model handles much of the domain but fails too often: fine-tune it, aiming the training data at "
        "the worst criteria and taxonomy cells below."
    ),
    Band.FULL_PIPELINE: (
        "Plan the full pipeline (data collection, fine-tuning, evaluation), but first ask whether the failures "
        "below are fixable with data or are architectural, in which case another base model is the better fix."
    ),
}


class PassRate(Record):
    passed: int
    assessed: int
    rate: float = Field(description="passed / assessed")
    low: float = Field(description="Wilson 95% interval, lower bound")
    high: float = Field(description="Wilson 95% interval, upper bound")


class Verdict(Record):
    """The band the observed rate falls in, and how sure we are of it."""

    band: Band
    label: str
    action: str
    inconclusive: bool
    plausible_bands: list[Band] = Field(description="Every band the 95% interval reaches, lowest first")
    crossed_thresholds: list[float]
    settle_total: int | None = Field(
        default=None, description="Scenarios in total that would settle it at the observed rate (None: never)"
    )
    settle_more: int | None = Field(default=None, description="settle_total minus the scenarios assessed")
    settle_note: str = ""


class RunMetrics(Record):
    responses: int
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_mean_s: float | None = None
    tokens_per_s_median: float | None = None
    output_tokens_total: int = 0
    truncated: int = 0
    hosts: list[str] = Field(default_factory=list)


class JudgeInfo(Record):
    judges: list[str] = Field(description="Judges that produced the verdicts: 'llm:<model>', 'agent', 'check'")
    verdicts: int
    errors: int
    self_judged: bool = Field(description="The judge is the candidate or of its family (self-preference risk)")
    agreement: float | None = Field(default=None, description="Share of re-judged verdicts that agreed")
    kappa: float | None = Field(default=None, description="Cohen's kappa of the re-judged sample")
    agreement_n: int | None = None
    warnings: list[str] = Field(default_factory=list, description="The assessment step's judge warnings")


class Decision(Record):
    """Everything the decision document states about the run, derived from the files on disk."""

    model: str
    digest: str | None = None
    decided_at: str = Field(default_factory=utc_now)
    scenarios: int = Field(description="Scenarios in the study")
    pass_threshold: float | None = Field(default=None, description="The rubric's per-response pass threshold")
    thresholds: Thresholds
    pass_rate: PassRate
    verdict: Verdict
    failures: FailureAnalysis
    run: RunMetrics
    judge: JudgeInfo
    warnings: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        pr, v = self.pass_rate, self.verdict
        lines = [
            f"{self.model}: {pr.passed}/{pr.assessed} passed = {pr.rate:.1%} "
            f"(95% CI {pr.low:.1%}–{pr.high:.1%}) → {v.label}" + (" (inconclusive)" if v.inconclusive else ""),
            f"  {v.action}",
        ]
        if v.inconclusive:
            lines.append(f"  Inconclusive: {v.settle_note}")
        worst = [c for c in self.failures.criteria if c.failures][:3]
        if worst:
            lines.append("  Worst criteria: " + ", ".join(f"{c.criterion_id} {c.failures}/{c.assessed}" for c in worst))
        lines += [f"  Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ the rule
def band_for(rate: float, thresholds: Thresholds) -> Band:
    """≥ sufficient → likely sufficient; ≥ fine_tune → fine-tune; else full pipeline (cut-offs count upward)."""
    if rate >= thresholds.sufficient:
        return Band.LIKELY_SUFFICIENT
    if rate >= thresholds.fine_tune:
        return Band.FINE_TUNE
    return Band.FULL_PIPELINE


def pass_rate(passed: int, assessed: int) -> PassRate:
    low, high = stats.wilson_interval(passed, assessed)
    return PassRate(passed=passed, assessed=assessed, rate=passed / assessed if assessed else 0.0, low=low, high=high)


def judge_verdict(rate: PassRate, thresholds: Thresholds) -> Verdict:
    """The band for the observed rate, marked inconclusive when the 95% interval crosses a cut-off."""
    band = band_for(rate.rate, thresholds)
    cuts = [thresholds.fine_tune, thresholds.sufficient]
    crossed = stats.crossed_thresholds(rate.low, rate.high, cuts)
    order = [Band.FULL_PIPELINE, Band.FINE_TUNE, Band.LIKELY_SUFFICIENT]
    plausible = order[order.index(band_for(rate.low, thresholds)) : order.index(band_for(rate.high, thresholds)) + 1]
    verdict = Verdict(
        band=band,
        label=BAND_LABEL[band],
        action=BAND_ACTION[band],
        inconclusive=bool(crossed),
        plausible_bands=plausible,
        crossed_thresholds=crossed,
    )
    if crossed:
        estimate = stats.scenarios_to_settle(rate.rate, rate.assessed, cuts)
        verdict.settle_total = estimate.total
        verdict.settle_more = None if estimate.total is None else max(0, estimate.total - rate.assessed)
        names = [BAND_LABEL[b].lower() for b in plausible]
        spans = ", ".join(names[:-1]) + " or " + names[-1]
        where = " and ".join(f"{t:.0%}" for t in crossed)
        if estimate.total is None:
            verdict.settle_note = f"the 95% interval crosses {where} (could be {spans}); {estimate.reason}."
        else:
            verdict.settle_note = (
                f"the 95% interval crosses {where} (could be {spans}); about {estimate.total} scenarios in total "
                f"({verdict.settle_more} more) would settle it if the pass rate stays at {rate.rate:.0%}."
            )
    return verdict


def run_metrics(responses: list[BaselineResponse]) -> RunMetrics:

    latencies = sorted(r.latency_s for r in responses)
    speeds = sorted(r.tokens_per_s for r in responses if r.tokens_per_s)
    return RunMetrics(
        responses=len(responses),
        latency_p50_s=stats.percentile(latencies, 50),
        latency_p95_s=stats.percentile(latencies, 95),
        latency_mean_s=sum(latencies) / len(latencies) if latencies else None,
        tokens_per_s_median=stats.percentile(speeds, 50),
        output_tokens_total=sum(r.output_tokens or 0 for r in responses),
        truncated=sum(1 for r in responses if r.truncated),
        hosts=sorted({r.host for r in responses if r.host}),
    )


def make_decision(
    model: str,
    assessments: list[Assessment],
    scenarios: list[Scenario],
    responses: list[BaselineResponse],
    verdicts: list[CriterionVerdict],
    thresholds: Thresholds,
    *,
    rubric: dict[str, CriterionInfo] | None = None,
    weights: dict[str, float] | None = None,
    pass_threshold: float | None = None,
    judge: JudgeInfo | None = None,
) -> Decision:
    """The whole decision from in-memory records (pure; `decide` loads them from the study)."""
    if not assessments:
        raise StepNotReady(f"no assessments for {model}; run step 6 (`assess`) first")
    latest: dict[str, Assessment] = {}
    for a in assessments:
        latest[a.scenario_id] = a  # one verdict per scenario: the last one recorded wins
    warnings = []
    if len(latest) < len(assessments):
        warnings.append(f"{len(assessments) - len(latest)} duplicate assessments ignored (kept the latest)")
    assessed = list(latest.values())
    known = {s.id for s in scenarios}
    unknown = [a.scenario_id for a in assessed if known and a.scenario_id not in known]
    if unknown:
        warnings.append(f"{len(unknown)} assessments are for scenarios no longer in scenarios.jsonl")
    missing = len(known - set(latest))
    if missing:
        warnings.append(f"{missing} of {len(known)} scenarios are not assessed; the pass rate covers the rest only")
    keys = {a.response_key for a in assessed}
    used = [r for r in responses if r.key in keys]
    rate = pass_rate(sum(1 for a in assessed if a.passed), len(assessed))
    analysis = analyse_failures(assessed, scenarios, used, verdicts, rubric, weights)
    if judge is None:
        judge = judge_info(model, verdicts)
    if judge.self_judged:
        warnings.append("self-preference risk: the pass rate may be inflated (see Judge reliability)")
    digests = sorted({r.digest for r in used if r.digest})
    if len(digests) > 1:
        warnings.append(f"responses come from {len(digests)} different model digests: the model changed mid-study")
    return Decision(
        model=model,
        digest=digests[-1] if digests else None,
        scenarios=len(known) or len(assessed),
        pass_threshold=pass_threshold,
        thresholds=thresholds,
        pass_rate=rate,
        verdict=judge_verdict(rate, thresholds),
        failures=analysis,
        run=run_metrics(used),
        judge=judge,
        warnings=warnings,
    )


def judge_info(model: str, verdicts: list[CriterionVerdict], summary: AssessmentSummary | None = None) -> JudgeInfo:
    """Who judged, how often the judge failed, its agreement with itself, and whether it may favour the candidate."""
    from base_model_selector.judging.llm_judge import self_judge_warning

    judges = sorted({v.judge for v in verdicts} | ({summary.judge} if summary else set()))
    agreement = summary.agreement if summary else None
    warnings = list(summary.warnings) if summary else []
    risky = [w for j in judges if j.startswith("llm:") and (w := self_judge_warning(j.removeprefix("llm:"), model))]
    warnings += [w for w in risky if w not in warnings]
    return JudgeInfo(
        judges=judges,
        verdicts=len(verdicts),
        errors=sum(1 for v in verdicts if v.answer is Answer.ERROR),
        self_judged=bool(risky),
        agreement=agreement.percent_agreement if agreement else None,
        kappa=agreement.kappa if agreement else None,
        agreement_n=agreement.sample if agreement else None,
        warnings=warnings,
    )


def load_inputs(
    study: Study, model: str
) -> tuple[AssessmentReport, list[Scenario], list[BaselineResponse], list[CriterionVerdict], Rubric]:
    """Everything step 7 reads, with a StepNotReady naming the command when a step has not run yet."""
    path = study.paths.assessments(model)
    report = study.read_json(path, AssessmentReport)
    if report is None:
        raise StepNotReady(
            f"{path}: not found; assess the responses first with "
            f"`base-model-selector --study {study.root} assess --model {model}` (MCP: assess_responses)"
        )
    rubric = load_rubric(study.paths.rubric_yaml)
    scenarios = study.read_jsonl(study.paths.scenarios, Scenario).records
    responses = study.read_jsonl(study.paths.responses(model), BaselineResponse).records
    verdicts = study.read_jsonl(study.paths.verdicts(model), CriterionVerdict).records
    return report, scenarios, responses, verdicts, rubric


def rubric_info(rubric: Rubric) -> dict[str, CriterionInfo]:
    info = {c.id: CriterionInfo(c.category, c.question, c.safety_gate) for c in rubric.criteria}
    info |= {k.id: CriterionInfo(k.category, f"Check: {k.describe()}", k.gate) for k in rubric.checks}
    return info


def current_decision(study: Study, model: str) -> Decision:
    """The decision the study's files support right now, without writing it (the review page shows this live)."""
    report, scenarios, responses, verdicts, rubric = load_inputs(study, model)
    if not report.assessments:
        raise StepNotReady(
            f"{study.paths.assessments(model)}: holds no assessed responses "
            f"({report.summary.pending} pending); finish step 6 with `base-model-selector --study {study.root} "
            f"assess --model {model}`"
        )
    decision = make_decision(
        model,
        report.assessments,
        scenarios,
        responses,
        verdicts,
        study.config.thresholds,
        rubric=rubric_info(rubric),
        weights=dict(rubric.categories),
        pass_threshold=rubric.pass_threshold,
        judge=judge_info(model, verdicts, report.summary),
    )
    if report.summary.pending:
        decision.warnings.append(
            f"{report.summary.pending} responses are still waiting for verdicts and are not in the pass rate"
        )
    return decision


def decide(study: Study, model: str | None = None, *, decided_at: str | None = None) -> Decision:
    """Step 7 for a study: read the assessments and their inputs, decide, and write runs/<model>/decision.json."""
    from base_model_selector.serving.pull import model_under_test

    model = model_under_test(study, model)
    decision = current_decision(study, model)
    if decided_at is not None:
        decision.decided_at = decided_at
    with study.locked(f"decide {model}"):
        study.write_json(study.paths.decision(model), decision)
    return decision
