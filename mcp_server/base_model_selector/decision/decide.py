"""Step 7: turn the assessments into a decision — pass rate, its Wilson interval, the band, and whether it is settled.

The decision (deploy after a qualitative review, fine-tune, or build the full pipeline) is what someone acts on
for weeks, so it is stated with its uncertainty: the pass rate comes with n and a 95% Wilson interval, and when
the interval straddles a threshold the decision is marked inconclusive together with how many scenarios would
settle it at the observed rate. The failure analysis (failures.py) rides along so the document can show *why*.
The result is written to runs/<model>/decision.json and is derived only from files on disk.
"""

from __future__ import annotations

import hashlib
import logging
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import Field

from base_model_selector.decision.failures import CriterionInfo, FailureAnalysis, analyse_failures
from base_model_selector.judging.rubric import Rubric, load_rubric
from base_model_selector.study import stats
from base_model_selector.study.config import Thresholds
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StepNotReady, cli_command

if TYPE_CHECKING:
    from base_model_selector.judging.verdicts import VerdictStore
from base_model_selector.study.types import (
    Agreement,
    Answer,
    Assessment,
    AssessmentReport,
    AssessmentSummary,
    BaselineResponse,
    Basis,
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
    """The judge the decision rests on, the people who overruled it, and how well other judges agree with it."""

    judge: str = Field(description="The primary judge: 'llm:<model>@<digest>', 'agent:<name>', 'human:<name>'")
    settings: dict[str, Any] = Field(default_factory=dict, description="Its settings (temperature, seed, ...)")
    verdicts: int = Field(description="Criterion verdicts by the primary judge that the decision uses")
    overridden: int = Field(default=0, description="Items where a person's verdict replaced the primary's")
    changed: int = Field(default=0, description="Of those, items where the person answered differently")
    people: list[str] = Field(default_factory=list)
    errors: int = Field(description="ERROR verdicts the decision uses (current ones; superseded ones are not counted)")
    self_judged: bool = Field(description="The judge is the candidate or of its family (self-preference risk)")
    agreements: list[Agreement] = Field(default_factory=list, description="Each comparison judge vs the primary")
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
    assessments_sha256: str | None = Field(
        default=None, description="sha256 of the assessments.json decided from: a different file makes this stale"
    )
    unusable: str | None = Field(
        default=None, description="Why this decision must not be acted on (too many judge ERRORs); None when usable"
    )
    warnings: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        pr, v = self.pass_rate, self.verdict
        lines = [f"UNUSABLE: {self.unusable}"] if self.unusable else []
        lines += [
            f"{self.model}: {pr.passed}/{pr.assessed} passed = {pr.rate:.1%} "
            f"(95% CI {pr.low:.1%}–{pr.high:.1%}) → {v.label}" + (" (inconclusive)" if v.inconclusive else ""),
            f"  {v.action}",
        ]
        if v.inconclusive:
            lines.append(f"  Inconclusive: {v.settle_note}")
        worst = [c for c in self.failures.criteria if c.failures][:3]
        if worst:
            lines.append("  Worst criteria: " + ", ".join(f"{c.criterion_id} {c.failures}/{c.assessed}" for c in worst))
        j = self.judge
        lines.append(
            f"  Judge: {j.judge} ({j.verdicts} verdicts"
            + (f"; a person's verdict on {j.overridden} items, {j.changed} changed" if j.overridden else "")
            + ")"
        )
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
        elif estimate.total > stats.PRACTICAL_SETTLE_N:
            nearest = min(cuts, key=lambda t: abs(t - rate.rate))
            verdict.settle_note = (
                f"the 95% interval crosses {where} (could be {spans}); the pass rate {rate.rate:.1%} is so close to "
                f"the {nearest:.0%} threshold that only about {estimate.total:,} scenarios would settle it — treat it "
                "as borderline and let the qualitative review decide."
            )
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
    max_error_share: float = 1.0,
) -> Decision:
    """The whole decision from in-memory records (pure; `decide` loads them from the study). More ERROR verdicts
    than `max_error_share` of those it rests on make it unusable: it is still written, and says so first."""
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
    warnings += [a.warning for a in judge.agreements if a.warning]
    digests = sorted({r.digest for r in used if r.digest})
    if len(digests) > 1:
        warnings.append(f"responses come from {len(digests)} different model digests: the model changed mid-study")
    return Decision(
        unusable=unusable_reason(judge.errors, len(verdicts), max_error_share),
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


def unusable_reason(errors: int, verdicts: int, max_share: float) -> str | None:
    """Why a decision resting on this many ERROR verdicts must not be acted on, or None. An ERROR counts as a
    failure, so a judge that could not answer drags the pass rate down: past the limit the rate measures the judge."""
    if not verdicts or errors / verdicts <= max_share:
        return None
    return (
        f"{errors} of {verdicts} judge verdicts ({errors / verdicts:.0%}) are ERROR (unusable judge replies, counted "
        f"as failures), more than judge.max_error_share ({max_share:.0%}): the pass rate measures the judge, not the "
        "model. Fix the judge (a server that takes structured output, a larger judge.model, judge.num_predict), "
        "then re-judge with `assess --rejudge-errors`"
    )


def judge_info(
    model: str, verdicts: list[CriterionVerdict], summary: AssessmentSummary | None = None, basis: Basis | None = None
) -> JudgeInfo:
    """Who judged, how often the judge failed, how well others agree with it, and whether it may favour the
    candidate. `verdicts` are the criterion verdicts the decision uses (one per item), never superseded ones."""
    from base_model_selector.judging.judges import kind, llm_model
    from base_model_selector.judging.llm_judge import self_judge_warning

    primary = basis.judge if basis else summary.judge if summary else ",".join(sorted({v.judge for v in verdicts}))
    warnings = list(summary.warnings) if summary else []
    risky = [
        w for j in primary.split(",") if kind(j) == "llm" and (w := self_judge_warning(llm_model(j), model)) is not None
    ]
    warnings += [w for w in risky if w not in warnings]
    people = basis.people if basis else []
    return JudgeInfo(
        judge=primary,
        settings=basis.settings if basis else {},
        verdicts=sum(1 for v in verdicts if v.judge not in people),
        overridden=basis.overridden if basis else 0,
        changed=basis.changed if basis else 0,
        people=people,
        errors=sum(1 for v in verdicts if v.answer is Answer.ERROR),
        self_judged=bool(risky),
        agreements=list(summary.agreements) if summary else [],
        warnings=warnings,
    )


def rubric_info(rubric: Rubric) -> dict[str, CriterionInfo]:
    info = {c.id: CriterionInfo(c.category, c.question, c.safety_gate) for c in rubric.criteria}
    info |= {k.id: CriterionInfo(k.category, f"Check: {k.describe()}", k.gate) for k in rubric.checks}
    return info


def current_assessments(
    study: Study, model: str, judge: str | None = None, *, store: VerdictStore | None = None
) -> tuple[AssessmentReport, list[CriterionVerdict]]:
    """The assessments to decide from, refused unless the primary judge (`judge`, else judge.mode) covered every
    item and they are current. Returns the report and the criterion verdicts it uses (one per item: the
    primary's, or a person's). `store`: the run's verdicts, when the caller has read them already."""
    from base_model_selector.judging import results

    st = results.state(study, model, judge, store=store)
    if not st.complete:
        raise StepNotReady(
            f"{st.coverage()}: a decision needs a verdict on every (response, criterion) item from the judge it "
            f"rests on (judge.mode: {st.primary.mode}); finish step 6, then decide again",
            *results.finish_fixes(study, st),
        )
    report = study.read_json(study.paths.assessments(model), AssessmentReport)
    expected = st.identity if st.inputs.rubric.criteria else results.CHECKS_ONLY
    rescore = Fix(
        "assess_responses",
        cli_command(study.root, f"assess --model {model}"),
        {"study": str(study.root), "model": model},
    )
    if report is None:
        raise StepNotReady(
            f"{study.paths.assessments(model)}: not found; score the verdicts (those already stored cost no judge "
            "call)",
            rescore,
        )
    b = report.basis
    now = (expected, results.rubric_sha256(study), results.responses_sha256(st.inputs), st.judged, st.overridden)
    if (b.judge, b.rubric_sha256, b.responses_sha256, b.judged, b.overridden) != now:
        raise StepNotReady(
            f"{study.paths.assessments(model)}: out of date (it rests on {b.judge}; the judge, rubric.yaml, the "
            "responses or the recorded verdicts changed since); re-score (verdicts already stored cost no judge call)",
            rescore,
        )
    return report, list(st.counting.values())


def current_decision(
    study: Study, model: str, judge: str | None = None, *, store: VerdictStore | None = None
) -> Decision:
    """The decision the study's files support right now, without writing it (the review page shows it live).

    Refused like `decide` while the judge it rests on (`judge`, else judge.mode) has not covered every item, or
    when the assessments no longer match the verdicts, rubric or responses.
    """
    from base_model_selector.scenarios.generate import cells_text, unfilled_slots

    report, verdicts = current_assessments(study, model, judge, store=store)
    rubric = load_rubric(study.paths.rubric_yaml)
    scenarios = study.read_jsonl(study.paths.scenarios, Scenario).records
    responses = study.read_jsonl(study.paths.responses(model), BaselineResponse).records
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
        judge=judge_info(model, verdicts, report.summary, report.basis),
        max_error_share=study.config.judge.max_error_share,
    )
    decision.assessments_sha256 = hashlib.sha256(study.paths.assessments(model).read_bytes()).hexdigest()
    unfilled, planned = unfilled_slots(study, scenarios)
    if unfilled:
        decision.warnings.append(
            f"{len(unfilled)} of {planned} planned scenarios were never written ({cells_text(unfilled)}); the "
            "pass rate covers the written ones only — write them with add_scenarios and re-run to include them"
        )
    return decision


def decide(
    study: Study, model: str | None = None, *, decided_at: str | None = None, judge: str | None = None
) -> Decision:
    """Step 7 for a study: read the assessments and their inputs, decide, and write runs/<model>/decision.json.

    The decision rests on `judge` (llm, agent, agent:<name>, human:<name>), else judge.mode. Refused while that
    judge has not covered every item (`k of n items judged`), or when the assessments no longer match the
    verdicts, rubric or responses. Re-deciding with nothing changed writes nothing.
    """
    from base_model_selector.serving.pull import model_under_test

    model = model_under_test(study, model)
    decision = current_decision(study, model, judge)
    if decided_at is not None:
        decision.decided_at = decided_at
    path = study.paths.decision(model)
    with study.locked(f"decide {model}"):
        if not study.write_json(path, decision):
            decision = study.read_json(path, Decision) or decision  # unchanged: keep the time it was decided
    return decision
