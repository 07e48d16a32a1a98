"""`evaluate`: steps 3–8 for a prepared study in one call — the command most users run.

A prepared study (study.yaml, taxonomy.yaml, rubric.yaml, a system prompt) is all it needs: it pulls the model if
the server lacks it, records its facts, plans and writes the scenarios if there are none, runs the baseline,
assesses it, decides and writes the document. Each step is the step's own core function, so `evaluate` adds no
logic of its own beyond the order and one progress display; and because every step is resumable and keyed by
its inputs, running `evaluate` again after an interruption continues where it stopped, and running it on a
finished study makes no model calls at all (the facts are re-checked only when the model's digest changed).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from pydantic import BaseModel, Field

from base_model_selector.serving.backends import Backend, ProgressFn
from base_model_selector.serving.engine import next_step
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StepNotReady, cli_command

STAGES = ("pull", "check", "scenarios", "baseline", "assess", "decide", "document")


class StageOutcome(BaseModel):
    stage: str
    status: str = Field(
        description="done (work was done), skipped (already done), failed (items failed: the step did not finish), "
        "or stopped"
    )
    summary: str


class EvaluateResult(BaseModel):
    """What each step did, the decision, and where the document is (or what must happen before it can be)."""

    model: str
    stages: list[StageOutcome]
    complete: bool = Field(description="Every step finished and the document was written")
    decision: str | None = Field(default=None, description="The decision line, when reached")
    document: str | None = None
    next_action: str = ""
    warnings: list[str] = Field(default_factory=list, description="What the result rests on that is not complete")

    def summary(self) -> str:
        lines = [f"Evaluate {self.model}:"]
        for stage in self.stages:
            first, *rest = stage.summary.splitlines() or [""]
            lines.append(f"  [{stage.status}] {stage.stage}: {first}")
            lines += [f"      {line}" for line in rest]
        if self.decision:
            lines.append(f"Decision: {self.decision}")
        if self.document:
            lines.append(f"Document: {self.document}")
        lines += [f"Warning: {w}" for w in self.warnings]
        if self.next_action:
            lines.append(f"Next: {self.next_action}")
        return "\n".join(lines)


class _Display:
    """One progress display for the whole run: stage i of n, advanced by the stage's own fraction.

    A stage may report several passes (judging, then re-judging a sample); the display never moves backwards.
    """

    def __init__(self, progress: ProgressFn | None):
        self.progress = progress
        self.shown = 0.0

    async def show(self, index: int, fraction: float, message: str) -> None:
        if self.progress is None:
            return
        self.shown = max(self.shown, index + min(1.0, max(0.0, fraction)))
        where = f"[{index + 1}/{len(STAGES)} {STAGES[index]}] " if index < len(STAGES) else ""
        await self.progress(self.shown, len(STAGES), where + message)

    def stage(self, index: int) -> ProgressFn | None:
        if self.progress is None:
            return None

        async def report(done: float, total: float | None, message: str) -> None:
            await self.show(index, done / total if total else 0.0, message)

        return report


async def evaluate(
    study: Study,
    model: str | None = None,
    *,
    backend: Backend | None = None,
    html: bool = False,
    progress: ProgressFn | None = None,
) -> EvaluateResult:
    """Steps 3–8, each resumed or skipped when its results are already on disk."""
    from base_model_selector.baseline.run import run_baseline
    from base_model_selector.decision.decide import decide
    from base_model_selector.decision.report import write_decision_doc
    from base_model_selector.judging.assessment import assess_responses
    from base_model_selector.serving.backends import using
    from base_model_selector.serving.check import check_model
    from base_model_selector.serving.pull import model_under_test, pull_model
    from base_model_selector.study.types import ModelFacts

    tag = model_under_test(study, model)
    stages: list[StageOutcome] = []
    warnings: list[str] = []
    display = _Display(progress)

    def result(next_action: str, **extra: Any) -> EvaluateResult:
        return EvaluateResult(model=tag, stages=stages, next_action=next_action, warnings=warnings, **extra)

    async with using(study.config.backend, backend) as server:
        await display.show(0, 0.0, f"making sure {tag} is on the server")
        pulled = await pull_model(study, tag, backend=server, progress=display.stage(0))
        stages.append(
            StageOutcome(
                stage="pull", status="done" if pulled.status == "pulled" else "skipped", summary=pulled.summary()
            )
        )

        judge = study.config.judge
        if judge.mode == "llm" and judge.model and judge.model != tag:
            await server.show(judge.model)  # a missing judge fails now, with its pull command, not after the baseline

        await display.show(1, 0.0, f"checking {tag}")
        facts = study.read_json(study.paths.model_facts(tag), ModelFacts)
        # An OpenAI-compatible server reports no digest: its facts (and server record) stand until `check` is run.
        server_kind = facts.server.kind if facts is not None and facts.server is not None else None
        if facts is not None and facts.digest == pulled.digest and (facts.digest or server_kind):
            recorded = f"digest {facts.digest[:12]}" if facts.digest else f"{tag} on {server_kind}"
            stages.append(
                StageOutcome(stage="check", status="skipped", summary=f"facts already recorded for {recorded}")
            )
        else:
            checked = await check_model(study, tag, backend=server)
            stages.append(StageOutcome(stage="check", status="done", summary=checked.summary()))

        await display.show(2, 0.0, "scenarios")
        written, short = await _scenarios(study, tag, server, display.stage(2))
        stages.append(written)
        if written.status == "stopped":
            return result(
                f"{short}, below scenarios.min_share ({study.config.scenarios.min_share:.0%}); run evaluate again "
                "to retry them, write them with add_scenarios (CLI `add-scenarios FILE`), or set "
                "scenarios.generator_model to another model — a baseline on a short, uneven set of scenarios "
                "would misstate the pass rate",
                complete=False,
            )
        if short:
            warnings.append(
                f"{short}; the baseline runs on the written ones (at least scenarios.min_share, "
                f"{study.config.scenarios.min_share:.0%}). Write the rest with add_scenarios and re-run evaluate "
                "to include them"
            )

        await display.show(3, 0.0, "running the baseline")
        baseline = await run_baseline(study, tag, backend=server, progress=display.stage(3))
        status = "failed" if baseline.failed else "done" if baseline.new else "skipped"
        stages.append(StageOutcome(stage="baseline", status=status, summary=baseline.summary()))
        if not baseline.complete:
            return result(
                f"{baseline.scenarios - baseline.answered} scenarios have no response yet; "
                + next_step(baseline.failed, "evaluate"),
                complete=False,
            )

        await display.show(4, 0.0, "assessing the responses")
        assessed = await assess_responses(study, tag, backend=server, progress=display.stage(4))
        status = "failed" if assessed.failed_calls else "done" if assessed.judge_calls else "skipped"
        stages.append(StageOutcome(stage="assess", status=status, summary=assessed.summary()))
        if assessed.state != "complete":
            return result(assessed.next_action, complete=False)

    await display.show(5, 0.0, "deciding")
    decision = await asyncio.to_thread(decide, study, tag)  # sync steps take the lock off the event loop
    stages.append(StageOutcome(stage="decide", status="done", summary=decision.summary()))
    await display.show(6, 0.0, "writing the document")
    doc = await asyncio.to_thread(functools.partial(write_decision_doc, study, tag, html=html))
    stages.append(StageOutcome(stage="document", status="done", summary=doc.summary()))
    await display.show(len(STAGES), 0.0, "finished")
    if decision.unusable:
        return result(f"do not act on this decision: {decision.unusable}", complete=False, decision=doc.decision,
                      document=doc.path)  # fmt: skip
    next_action = (
        "review the document with the team; add the missing notes with write_decision_doc (or in notes.md) and "
        "re-render (CLI `write-doc`)"
        if doc.missing
        else "review the document with the team"
    )
    return result(next_action, complete=True, decision=doc.decision, document=doc.path)


async def _scenarios(
    study: Study, tag: str, server: Backend, progress: ProgressFn | None
) -> tuple[StageOutcome, str | None]:
    """Write the scenarios when the study has none, or finish an interrupted generation; else leave them be.

    Scenarios an agent or a file supplied (no plan) are never topped up with generated ones. When some planned
    slots stay empty, the second value says which; the stage stops when fewer than `scenarios.min_share` of the
    plan was written (the baseline would rest on too uneven a set) and goes on otherwise.
    """
    from base_model_selector.scenarios.generate import (
        cells_text,
        existing_scenarios,
        generate_scenarios,
        unfilled_slots,
    )

    scenarios = existing_scenarios(study)
    unfilled, _planned = unfilled_slots(study, scenarios)
    if scenarios and not unfilled:
        stage = StageOutcome(
            stage="scenarios", status="skipped", summary=f"{len(scenarios)} scenarios in {study.paths.scenarios.name}"
        )
        return stage, None
    generated = await generate_scenarios(study, candidate=tag, backend=server, progress=progress)
    if generated.scenarios_total == 0:
        root = str(study.root)
        raise StepNotReady(
            f"{study.paths.scenarios}: the generator wrote no usable scenario ({generated.summary()})",
            Fix("add_scenarios", cli_command(root, "add-scenarios FILE"), {"study": root, "scenarios": []}),
            Fix(
                "configure_study",
                "set scenarios.generator_model in study.yaml",
                {"study": root, "settings": {"scenarios.generator_model": "<model tag>"}},
            ),
        )
    unfilled, planned = unfilled_slots(study)
    short = None
    if unfilled:
        short = (
            f"only {planned - len(unfilled)} of {planned} planned scenarios were written; missing: "
            f"{cells_text(unfilled)}"
        )
    enough = planned == 0 or (planned - len(unfilled)) / planned >= study.config.scenarios.min_share - 1e-9
    status = "stopped" if not enough else "done" if generated.generated else "skipped"
    return StageOutcome(stage="scenarios", status=status, summary=generated.summary()), short
