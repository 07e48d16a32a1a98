"""Step 5: the candidate answers every scenario, exactly once, however often the run is interrupted.

The baseline is the evidence the whole decision rests on, and it is the longest run (one model call per
scenario, seconds to minutes each). Each scenario becomes one single-turn request with the study's system
prompt, temperature, seed, `num_predict` and thinking setting, keyed by (model digest, messages, options,
scenario): `engine.run_work` runs them as parallel as the server allows, appends each `BaselineResponse` to
runs/<model>/responses.jsonl the moment it arrives, and a re-run skips every finished key, so an interrupted
run resumes and an identical re-run makes no model calls. A reply cut by `num_predict` is kept and flagged.

Contract: `await run_baseline(study, model=None, *, backend=None, pull=False, progress=None, retry=None)
-> BaselineSummary`
and `latest_responses(study, model) -> dict[scenario_id, BaselineResponse]` (what step 6 should judge: the last
response per scenario, i.e. the one made with the current settings).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from base_model_selector.serving.backends import Backend, ChatResult, ProgressFn, single_turn, using
from base_model_selector.serving.engine import FailedItem, RetryPolicy, WorkItem, next_step, request_key, run_work
from base_model_selector.serving.pull import model_under_test
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, ModelNotFound, StepNotReady, cli_command
from base_model_selector.study.stats import percentile
from base_model_selector.study.types import BaselineResponse, Scenario


class BaselineSummary(BaseModel):
    model: str
    digest: str | None
    responses_path: str
    scenarios: int
    answered: int = Field(description="Scenarios with a response made with the current settings")
    new: int = Field(description="Responses made in this run")
    already_done: int
    failed: list[FailedItem] = Field(default_factory=list)
    retries: int = 0
    truncated: list[str] = Field(default_factory=list, description="Scenario IDs whose reply hit num_predict")
    empty: list[str] = Field(default_factory=list, description="Scenario IDs with an empty reply")
    p50_latency_s: float | None = None
    p95_latency_s: float | None = None
    responses_per_s: float | None = Field(default=None, description="Throughput of this run")
    output_tokens_per_s: float | None = Field(default=None, description="Output tokens per second of this run")
    elapsed_s: float = 0.0
    overhead_ms_per_item: float = 0.0
    warnings: list[str] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.answered == self.scenarios

    def summary(self) -> str:
        lines = [
            f"Baseline of {self.model}: {self.answered}/{self.scenarios} scenarios answered "
            f"({self.new} now, {self.already_done} before), {len(self.failed)} failed"
            + (f", {self.retries} retries" if self.retries else "")
            + "."
        ]
        if self.p50_latency_s is not None:
            speed = f"; {self.responses_per_s:.2f} responses/s" if self.responses_per_s else ""
            lines.append(f"Latency p50 {self.p50_latency_s:.2f}s, p95 {self.p95_latency_s:.2f}s{speed}.")
        if self.truncated:
            lines.append(
                f"{len(self.truncated)} replies were cut by num_predict ({', '.join(self.truncated[:8])}"
                f"{' …' if len(self.truncated) > 8 else ''}): raise generation.num_predict in study.yaml if the "
                "product allows longer answers (that re-runs the baseline)."
            )
        if self.empty:
            lines.append(f"{len(self.empty)} replies were empty ({', '.join(self.empty[:8])}).")
        for failure in self.failed[:10]:
            lines.append(f"  failed {failure.label or failure.key}: {failure.error}")
        lines += [f"Warning: {w}" for w in self.warnings]
        lines.append(f"Responses: {self.responses_path}")
        if self.failed:
            lines.append(f"Next: {next_step(self.failed, 'the same command')}.")
        elif self.complete:
            lines.append("Next: assess the responses (MCP assess_responses, CLI `base-model-selector assess`).")
        return "\n".join(lines)


def read_scenarios(study: Study) -> tuple[list[Scenario], list[str]]:
    """The study's scenarios (each ID once), with warnings for a torn last line or repeated IDs."""
    path = study.paths.scenarios
    read = study.read_jsonl(path, Scenario)
    warnings = list(read.warnings)
    unique: dict[str, Scenario] = {}
    for scenario in read.records:
        if scenario.id in unique:
            warnings.append(f"{path}: scenario ID {scenario.id!r} appears more than once; the first is used")
            continue
        unique[scenario.id] = scenario
    return list(unique.values()), warnings


def latest_responses(study: Study, model: str) -> dict[str, BaselineResponse]:
    """The last response per scenario: the one made with the study's current settings after any re-run."""
    records = study.read_jsonl(study.paths.responses(model), BaselineResponse).records
    return {r.scenario_id: r for r in records}


def generation_options(study: Study) -> dict[str, Any]:
    gen = study.config.generation
    options: dict[str, Any] = {"temperature": gen.temperature, "seed": gen.seed, "num_predict": gen.num_predict}
    if gen.num_ctx is not None:
        options["num_ctx"] = gen.num_ctx
    return options


def baseline_items(
    study: Study, tag: str, digest: str | None, scenarios: list[Scenario] | None = None
) -> list[WorkItem[Any]]:
    """One work item per scenario, keyed by (model digest, messages, options): the request the baseline sends.

    Status uses the same keys to tell a finished run from one made with settings that have changed since.
    """
    if scenarios is None:
        scenarios, _ = read_scenarios(study)
    system = study.system_prompt()
    options = generation_options(study)
    switches: dict[str, Any] = {"think": study.config.generation.think}
    backend = study.config.backend
    if backend.kind == "openai" and not backend.cache_prompt:
        switches["cache_prompt"] = False  # replies made without the prompt cache are a different (exact) run
    items = []
    for scenario in scenarios:
        messages = single_turn(system, scenario.text)
        key = request_key(digest or f"name:{tag}", messages, options, switches, scenario.id)
        items.append(WorkItem(key=key, payload=(scenario, messages), label=scenario.id))
    return items


async def run_baseline(
    study: Study,
    model: str | None = None,
    *,
    backend: Backend | None = None,
    pull: bool = False,
    progress: ProgressFn | None = None,
    retry: RetryPolicy | None = None,
) -> BaselineSummary:
    """Answer every scenario with the model (resuming a previous run) and summarise the run.

    `retry` defaults to the study's backend settings (`RetryPolicy.from_config`).
    """
    tag = model_under_test(study, model)
    scenarios, warnings = read_scenarios(study)
    if not scenarios:
        raise StepNotReady(
            f"{study.paths.scenarios}: no scenarios yet; write them first (step 4)",
            Fix("generate_scenarios", cli_command(study.root, "generate"), {"study": str(study.root)}),
            Fix(
                "add_scenarios",
                cli_command(study.root, "add-scenarios FILE"),
                {"study": str(study.root), "scenarios": []},
            ),
        )
    options = generation_options(study)
    think = study.config.generation.think
    sink = study.paths.responses(tag)
    async with using(study.config.backend, backend) as server:
        try:
            info = await server.show(tag)
        except ModelNotFound as err:
            if not pull:
                pull_too = Fix(
                    "run_baseline",
                    cli_command(study.root, f"run --model {tag} --pull"),
                    {"study": str(study.root), "model": tag, "pull": True},
                )
                raise ModelNotFound(err.message, *err.fixes, pull_too) from None
            await server.pull(tag, progress)
            info = await server.show(tag)
        warnings += info.warnings
        digest = info.digest
        items = baseline_items(study, tag, digest, scenarios)
        current = {item.key for item in items}
        made: list[BaselineResponse] = []

        async def answer(item: WorkItem[Any]) -> BaselineResponse:
            scenario, messages = item.payload
            reply: ChatResult = await server.chat(tag, messages, options=options, think=think)
            record = BaselineResponse(
                key=item.key,
                scenario_id=scenario.id,
                model=tag,
                digest=digest,
                text=reply.text,
                thinking=reply.thinking,
                latency_s=reply.latency_s,
                prompt_tokens=reply.prompt_tokens,
                output_tokens=reply.output_tokens,
                tokens_per_s=reply.tokens_per_s,
                done_reason=reply.done_reason,
                truncated=reply.truncated,
                host=reply.host,
            )
            made.append(record)
            return record

        async with study.locked_async(f"run_baseline {tag}"):
            earlier = study.read_jsonl(sink, BaselineResponse)
            warnings += earlier.warnings
            done_keys = {r.key for r in earlier.records}
            report = await run_work(
                items,
                answer,
                sink,
                append=study.append,
                concurrency=max(1, min(server.slots, len(items))),
                retry=retry or RetryPolicy.from_config(study.config.backend),
                progress=progress,
                done_keys=done_keys,
            )
    kept = [r for r in earlier.records if r.key in current]
    superseded = len(earlier.records) - len(kept)
    if superseded:
        warnings.append(
            f"{superseded} earlier responses in {sink.name} were made with other settings, weights or scenario "
            "texts; they are kept, and the latest response per scenario is the one assessed"
        )
    responses = kept + made
    latencies = sorted(r.latency_s for r in responses)
    new_tokens = sum(r.output_tokens or 0 for r in made)
    elapsed = report.elapsed_s
    return BaselineSummary(
        model=tag,
        digest=digest,
        responses_path=str(sink),
        scenarios=len(scenarios),
        answered=len({r.scenario_id for r in responses}),
        new=report.done,
        already_done=report.skipped,
        failed=report.failed,
        retries=report.retries,
        truncated=[r.scenario_id for r in responses if r.truncated],
        empty=[r.scenario_id for r in responses if not r.text.strip()],
        p50_latency_s=percentile(latencies, 50),
        p95_latency_s=percentile(latencies, 95),
        responses_per_s=round(report.done / elapsed, 3) if report.done and elapsed > 0 else None,
        output_tokens_per_s=round(new_tokens / elapsed, 1) if new_tokens and elapsed > 0 else None,
        elapsed_s=elapsed,
        overhead_ms_per_item=report.overhead_ms_per_item,
        warnings=warnings,
    )
