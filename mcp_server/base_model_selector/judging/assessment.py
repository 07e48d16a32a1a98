"""Step 6: judge every baseline response against the rubric and write the scored assessments.

This is where the verdicts (from a local LLM judge, or recorded by the agent or a person via `agent_judge.py`)
and the deterministic checks meet the pass rule. The LLM judging runs through `engine.run_work`, so it is
concurrent, resumable and cached: verdicts are appended to runs/<model>/verdicts.jsonl as they finish, keyed by
the judge's build, the exact prompt and the options, and a re-run with nothing changed makes no model calls — nor
renders a prompt: the judge's record keeps the keys with a fingerprint of their inputs (`results.py`). Scoring is
recomputed from the files every time, for the primary judge (judge.mode, or `mode`) with a person's verdicts
laid over it; there is a pass rate only when every item has a verdict that counts (`results.py`).

Contract: `await assess_responses(study, model=None, *, backend=None, mode=None, batched=None,
rejudge_errors=False, agreement=None, agreement_sample=None, progress=None) -> AssessResult`; `result.state` is
`complete`, `failed_calls` (re-run to retry) or `pending` (items await the agent's or a person's verdicts).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from base_model_selector.judging import agreement as agreement_mod
from base_model_selector.judging import judges, results
from base_model_selector.judging.llm_judge import LLMJudge, flatten, self_judge_warning
from base_model_selector.judging.verdicts import Inputs, KeyMap, VerdictStore, load_inputs
from base_model_selector.serving.backends import Backend, ProgressFn, using
from base_model_selector.serving.engine import EngineReport, FailedItem, RetryPolicy, next_step, run_work
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BackendError
from base_model_selector.study.types import Agreement, Answer, AssessmentSummary, JudgeRecord

State = Literal["complete", "failed_calls", "pending"]


class AssessResult(BaseModel):
    """What assess_responses did, and the figures the decision step will use."""

    model: str
    mode: str = Field(description="The judge.mode the assessment used")
    judge: str = Field(description="The judge the decision rests on")
    state: State = Field(
        description="complete: every item judged; failed_calls: some judge calls failed, re-run to retry; pending: "
        "items await verdicts from the agent or a person"
    )
    coverage: str = Field(description="'k of n items judged by <judge>'")
    outcome: AssessmentSummary | None = Field(description="Pass rate, n, errors, failures; None until complete")
    assessments_path: str
    verdicts_path: str
    judge_calls: int = Field(default=0, description="Judge requests sent in this run, agreement re-judges included")
    agreement_calls: int = Field(default=0, description="Of those, the agreement re-judge's")
    cached_calls: int = Field(default=0, description="Judge calls skipped: their verdicts were already stored")
    failed_calls: list[str] = Field(default_factory=list, description="Calls that failed; re-run to retry them")
    pending_ids: list[str] = Field(default_factory=list, description="Scenarios with items still missing a verdict")
    next_action: str = ""

    def summary(self) -> str:
        o = self.outcome
        if o is None:
            lines = [f"{self.model}: no pass rate yet — {self.coverage}."]
        else:
            lines = [
                f"{self.model}: {o.passed}/{o.n} responses pass ({o.pass_rate:.1%}) at threshold "
                f"{o.pass_threshold:g} — judge {o.judge}"
            ]
            if o.errors:
                lines.append(f"{o.errors} verdicts are ERROR (unusable judge replies, counted as failures).")
            worst = sorted(((n, c) for c, n in o.failures_by_criterion.items() if n), reverse=True)[:5]
            if worst:
                lines.append("Most failed: " + ", ".join(f"{c} ({n})" for n, c in worst))
            for a in o.agreements:
                kappa = "undefined" if a.kappa is None else f"{a.kappa:.2f}"
                lines.append(
                    f"Agreement of {a.judge_b} with {a.judge_a}: {a.percent_agreement:.0%} on {a.sample} items, "
                    f"Cohen's κ {kappa} ({a.sampling})"
                )
        if self.judge_calls or self.cached_calls:
            lines.append(
                f"Judge calls: {self.judge_calls} made ({self.agreement_calls} for agreement), "
                f"{self.cached_calls} already stored."
            )
        lines += [f"  failed: {f}" for f in self.failed_calls[:10]]
        lines += [f"Warning: {w}" for w in (o.warnings if o else [])]
        lines.append(f"Assessments: {self.assessments_path}")
        lines.append(f"Next: {self.next_action}")
        return "\n".join(lines)


async def assess_responses(
    study: Study,
    model: str | None = None,
    *,
    backend: Backend | None = None,
    mode: str | None = None,
    batched: bool | None = None,
    rejudge_errors: bool = False,
    agreement: bool | None = None,
    agreement_sample: float | None = None,
    progress: ProgressFn | None = None,
) -> AssessResult:
    """Judge what the primary LLM judge has not judged yet, run the checks, score, and write the results."""
    inputs = load_inputs(study, model)
    cfg = study.config.judge
    primary = judges.primary_judge(study, inputs.model, mode)
    warnings = list(inputs.warnings)
    sample = agreement_mod.sample_fraction(cfg.agreement_sample, agreement, agreement_sample)
    report: EngineReport | None = None
    cached = calls = agreement_calls = 0
    rejudged: Agreement | None = None
    records: dict[str, dict[str, Any]] = {}
    async with study.locked_async(f"assess {inputs.model}"):
        if primary.kind == "llm" and inputs.rubric.criteria:
            async with using(study.config.backend, backend) as server:
                judge, judge_warnings = await build_judge(study, server, inputs.model)
                warnings += judge_warnings
                use_batches = cfg.batched if batched is None else batched
                keys, report, cached = await judge_pending(
                    study, inputs, judge, batched=use_batches, rejudge_errors=rejudge_errors, progress=progress
                )
                calls = judge.calls
                settings = judge.settings(use_batches) | {"model": judge.model, "digest": judge.digest}
                form = judge.structured_output or _recorded_form(study, inputs.model, judge.label)
                if form:
                    settings["structured_output"] = form
                if form == "none":
                    warnings.append(
                        "the judge's server accepted no structured-output form, so its replies were held to the "
                        "schema by the prompt alone; expect ERROR verdicts from small judges"
                    )
                records[judge.label] = settings
                st = results.state(study, inputs.model, mode, inputs=inputs, llm=(judge.label, keys))
                if sample and st.complete:
                    rejudged, agreement_calls = await agreement_mod.rejudge_sample(
                        study, inputs, st.items, st.own, judges.describe(st.identity, settings), sample,
                        backend=server, progress=progress, judge=judge,
                    )  # fmt: skip
        else:
            st = results.state(study, inputs.model, mode, inputs=inputs)
            if primary.kind != "llm":
                records[st.identity] = {}
            if sample and st.complete and inputs.rubric.criteria:
                rejudged, agreement_calls = await agreement_mod.rejudge_sample(
                    study, inputs, st.items, st.own, st.identity, sample, backend=backend, progress=progress
                )
        written = results.write(study, st, warnings=warnings, rejudged=rejudged, records=records)
    failed = [f"{f.label}: {f.error}" for f in report.failed] if report else []
    state: State = "complete" if st.complete else "failed_calls" if failed else "pending"
    refused = [f for f in report.failed if not f.retryable] if report else []
    return AssessResult(
        model=inputs.model,
        mode=primary.mode,
        judge=st.identity,
        state=state,
        coverage=st.coverage(),
        outcome=written.summary if written is not None else None,
        assessments_path=str(study.paths.assessments(inputs.model)),
        verdicts_path=str(study.paths.verdicts(inputs.model)),
        judge_calls=calls + agreement_calls,
        agreement_calls=agreement_calls,
        cached_calls=cached,
        failed_calls=failed,
        pending_ids=sorted({i.pair.scenario.id for i in st.items if i.key not in st.counting}),
        next_action=next_action(study, st, state, refused),
    )


def _recorded_form(study: Study, model: str, label: str) -> str | None:
    """The structured-output form the judge's record already names: a run that made no calls keeps it."""
    record = study.read_json(study.paths.judge_record(model, label), JudgeRecord)
    form = record.settings.get("structured_output") if record is not None else None
    return form if isinstance(form, str) else None


async def judge_pending(
    study: Study,
    inputs: Inputs,
    judge: LLMJudge,
    *,
    batched: bool,
    rejudge_errors: bool,
    progress: ProgressFn | None,
) -> tuple[KeyMap, EngineReport | None, int]:
    """Run the judge calls whose verdicts are not stored yet; returns every item's key, the run, and the calls
    skipped. When the judge's record still fits its inputs and every verdict is in, nothing is rendered."""
    store = VerdictStore.read(study, inputs.model)

    def finished(key: str) -> bool:
        found = store.by_request.get(key)
        return found is not None and not (rejudge_errors and found.answer is Answer.ERROR)

    n_items = len(inputs.pairs) * len(inputs.rubric.criteria)
    n_calls = len(inputs.pairs) if batched and len(inputs.rubric.criteria) > 1 else n_items
    record = study.read_json(study.paths.judge_record(inputs.model, judge.label), JudgeRecord)
    fingerprint = judge.fingerprint(inputs.pairs, inputs.rubric.criteria, batched=batched)
    if record is not None and record.fingerprint == fingerprint:
        keys = results.judge_keys_of(record)
        if len(keys) == n_items and all(finished(k) for k in keys.values()):
            return keys, None, n_calls
    tasks = judge.plan(inputs.pairs, inputs.rubric.criteria, batched=batched)
    judge.num_ctx = judge.context_size(tasks)
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
    keys = {(t.pair.scenario.id, cid): k for t in tasks for cid, k in t.verdict_keys.items()}
    return keys, report, report.skipped


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
        max_context=info.context_length,
    )
    return judge, warnings


def next_action(study: Study, st: results.State, state: State, refused: list[FailedItem] | None = None) -> str:
    cli = f"base-model-selector --study {study.root}"
    if state == "failed_calls":
        return f"{st.coverage()}: some judge calls failed; {next_step(refused or [], 'assess')} (CLI `{cli} assess`)"
    if state == "pending":
        return f"{st.coverage()}: finish with {results.finish_hint(study, st)}"
    if st.primary.mode != study.config.judge.mode:
        return (
            f"Step 7: decide on these assessments with judge={st.primary.mode!r} (MCP decide, CLI `{cli} decide "
            f"--model {st.inputs.model} --judge {st.primary.mode}`), or set judge.mode: {st.primary.mode} in "
            f"study.yaml — it names {study.config.judge.mode}, which status and decide follow by default"
        )
    return f"Step 7: decide (MCP decide, CLI `{cli} decide --model {st.inputs.model}`)"
