"""Step 6: judge every baseline response against the rubric and write the scored assessments.

This is where the verdicts (from a local LLM judge, or from the calling agent via `agent_judge.py`) and the
deterministic checks meet the pass rule. The LLM judging runs through `engine.run_work`, so it is concurrent,
resumable and cached: verdicts are appended to runs/<model>/verdicts.jsonl as they finish, keyed by the judge's
build, the exact prompt and the options, and a re-run with nothing changed makes no model calls. Scoring is then
recomputed from files every time, and runs/<model>/assessments.json holds the per-response Assessments plus the
summary the decision step reads. A response whose verdicts are not all in yet is "pending", never guessed.

Contract: `await assess_responses(study, model=None, *, backend=None, mode=None, batched=None,
rejudge_errors=False, agreement=None, agreement_sample=None, progress=None) -> AssessResult`. The judged items, scoring
and the report live in `verdicts.py`, shared with the agent-as-judge path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from base_model_selector.judging import agent_judge
from base_model_selector.judging import agreement as agreement_mod
from base_model_selector.judging.llm_judge import LLMJudge, flatten, self_judge_warning
from base_model_selector.judging.verdicts import Inputs, KeyFn, load_inputs, score_all, verdict_index, write_report
from base_model_selector.serving.backends import Backend, ProgressFn, using
from base_model_selector.serving.engine import EngineReport, RetryPolicy, run_work
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BackendError
from base_model_selector.study.types import (
    Answer,
    AssessmentSummary,
    CriterionVerdict,
)

Mode = Literal["llm", "agent"]


class AssessResult(BaseModel):
    """What assess_responses did, and the figures the decision step will use."""

    model: str
    mode: Mode
    outcome: AssessmentSummary = Field(description="Pass rate, n, errors, failures by criterion")
    assessments_path: str
    verdicts_path: str
    judge_calls: int = Field(default=0, description="Judge calls made in this run")
    cached_calls: int = Field(default=0, description="Judge calls skipped: their verdicts were already stored")
    failed_calls: list[str] = Field(default_factory=list, description="Calls that failed; re-run to retry them")
    pending_ids: list[str] = Field(default_factory=list, description="Scenarios still missing verdicts")
    next_action: str = ""

    def summary(self) -> str:
        o = self.outcome
        lines = [
            f"{self.model}: {o.passed}/{o.n} responses pass ({o.pass_rate:.1%}) at threshold {o.pass_threshold:g}"
            f" — judge {o.judge}"
        ]
        if o.errors:
            lines.append(f"{o.errors} verdicts are ERROR (unusable judge replies, counted as failures).")
        worst = sorted(((n, c) for c, n in o.failures_by_criterion.items() if n), reverse=True)[:5]
        if worst:
            lines.append("Most failed: " + ", ".join(f"{c} ({n})" for n, c in worst))
        if o.agreement is not None:
            kappa = "undefined" if o.agreement.kappa is None else f"{o.agreement.kappa:.2f}"
            lines.append(
                f"Judge agreement on {o.agreement.sample} re-judged verdicts: "
                f"{o.agreement.percent_agreement:.0%}, Cohen's kappa {kappa}"
            )
        if self.judge_calls or self.cached_calls:
            lines.append(f"Judge calls: {self.judge_calls} made, {self.cached_calls} already stored.")
        lines += [f"  failed: {f}" for f in self.failed_calls[:10]]
        lines += [f"Warning: {w}" for w in o.warnings]
        lines.append(f"Assessments: {self.assessments_path}")
        lines.append(f"Next: {self.next_action}")
        return "\n".join(lines)


async def assess_responses(
    study: Study,
    model: str | None = None,
    *,
    backend: Backend | None = None,
    mode: Mode | None = None,
    batched: bool | None = None,
    rejudge_errors: bool = False,
    agreement: bool | None = None,
    agreement_sample: float | None = None,
    progress: ProgressFn | None = None,
) -> AssessResult:
    """Judge what is not judged yet (LLM mode), run the checks, score, and write assessments.json."""

    inputs = load_inputs(study, model)
    cfg = study.config.judge
    mode = mode or cfg.mode
    warnings = list(inputs.warnings)
    report: EngineReport | None = None
    agreement_result = None
    sample = agreement_mod.sample_fraction(cfg.agreement_sample, agreement, agreement_sample)
    async with study.locked_async(f"assess {inputs.model}"):
        if mode == "agent" or not inputs.rubric.criteria:
            key_of: KeyFn = agent_judge.agent_key_fn(inputs)
            label = "agent" if inputs.rubric.criteria else "checks"
            index = verdict_index(study, inputs.model)
            if sample and inputs.rubric.criteria:
                agreement_result = await agreement_mod.rejudge_sample(
                    study, inputs, index, key_of, sample, backend=backend, progress=progress
                )
        else:
            async with using(study.config.backend, backend) as server:
                judge, judge_warnings = await build_judge(study, server, inputs.model)
                warnings += judge_warnings
                label = judge.label
                use_batches = cfg.batched if batched is None else batched
                report, index, key_of = await judge_pending(
                    study, inputs, judge, batched=use_batches, rejudge_errors=rejudge_errors, progress=progress
                )
                if sample:
                    agreement_result = await agreement_mod.rejudge_sample(
                        study, inputs, index, key_of, sample, backend=server, progress=progress, judge=judge
                    )
        assessments, pending = score_all(inputs, index, key_of)
        summary = write_report(
            study, inputs, assessments, pending, judge=label, warnings=warnings, agreement=agreement_result
        )
    return AssessResult(
        model=inputs.model,
        mode=mode,
        outcome=summary,
        assessments_path=str(study.paths.assessments(inputs.model)),
        verdicts_path=str(study.paths.verdicts(inputs.model)),
        judge_calls=report.done if report else 0,
        cached_calls=report.skipped if report else 0,
        failed_calls=[f"{f.label}: {f.error}" for f in report.failed] if report else [],
        pending_ids=pending,
        next_action=next_action(study, inputs.model, mode, pending, report),
    )


async def judge_pending(
    study: Study,
    inputs: Inputs,
    judge: LLMJudge,
    *,
    batched: bool,
    rejudge_errors: bool,
    progress: ProgressFn | None,
) -> tuple[EngineReport, dict[str, CriterionVerdict], KeyFn]:
    """Run the judge calls whose verdicts are not stored yet; returns the run, every verdict, and the key map."""
    tasks = judge.plan(inputs.pairs, inputs.rubric.criteria, batched=batched)
    judge.num_ctx = judge.context_size(tasks)
    index = verdict_index(study, inputs.model)

    def finished(key: str) -> bool:
        return key in index and not (rejudge_errors and index[key].answer is Answer.ERROR)

    report = await run_work(
        judge.work_items(tasks),
        judge.judge,
        study.paths.verdicts(inputs.model),
        append=lambda path, records: study.append(path, flatten(records)),
        concurrency=max(1, min(judge.backend.slots, len(tasks) or 1)),
        retry=RetryPolicy.from_config(study.config.backend),
        progress=progress,
        done_keys={t.key for t in tasks if all(finished(k) for k in t.verdict_keys.values())},
    )
    keys = {(t.pair.response.key, cid): k for t in tasks for cid, k in t.verdict_keys.items()}
    return report, verdict_index(study, inputs.model), lambda pair, cid: keys.get((pair.response.key, cid), "")


async def build_judge(study: Study, server: Backend, candidate: str) -> tuple[LLMJudge, list[str]]:
    """The configured judge (checked present on the server, so a missing one fails before any work)."""
    cfg = study.config.judge
    tag = cfg.model or candidate
    info = await server.show(tag)
    candidate_family = info.family if tag == candidate else None
    if tag != candidate:
        try:
            candidate_family = (await server.show(candidate)).family
        except BackendError:
            candidate_family = None
    warnings = list(info.warnings)
    warning = self_judge_warning(tag, candidate, judge_family=info.family, candidate_family=candidate_family)
    if warning:
        warnings.append(warning)
    judge = LLMJudge(
        backend=server,
        model=tag,
        digest=info.digest or f"name:{tag}",
        seed=cfg.seed,
        study_dir=study.root,
        system_prompt=study.system_prompt(),
        domain=study.config.domain,
        num_predict=cfg.num_predict,
        num_ctx=cfg.num_ctx,
    )
    return judge, warnings


def next_action(study: Study, model: str, mode: Mode, pending: list[str], report: EngineReport | None) -> str:
    cli = f"base-model-selector --study {study.root}"
    if mode == "agent" and pending:
        return (
            f"{len(pending)} responses still need verdicts: call next_assessment_batch, judge the items, and "
            f"record_assessments (CLI `{cli} next-batch` / `{cli} record FILE`)"
        )
    if pending:
        return f"{len(pending)} responses still lack verdicts; run assess again to retry the failed judge calls"
    return f"Step 7: decide (MCP decide, CLI `{cli} decide --model {model}`)"
