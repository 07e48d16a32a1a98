"""Step 4: plan the scenarios over the taxonomy and have a generator model write each one's opening message.

The plan (plan.py) says which cells the n scenarios fill; this module writes them. Each plan slot becomes one
model call through the engine, so generation is concurrent, survives a kill (finished scenarios are on disk the
moment they are accepted; a re-run fills only the empty slots) and costs nothing when repeated. A reply is cleaned
to the user's message alone; an empty reply, a refusal or a near-duplicate of an accepted scenario is retried
with another seed (and the duplicate shown as "write something different"), a bounded number of times, after
which the slot is reported, never silently dropped. Every attempt is logged with the raw reply for audit.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field

from base_model_selector.scenarios.plan import Coverage, PlanSlot, ScenarioPlan, check_n, make_plan
from base_model_selector.scenarios.taxonomy import Taxonomy, file_sha256, load_taxonomy
from base_model_selector.scenarios.text import DedupIndex, clean_reply, is_refusal, scenario_id
from base_model_selector.serving.backends import Backend, ProgressFn, using
from base_model_selector.serving.engine import RetryPolicy, WorkItem, run_work
from base_model_selector.study import templating
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StepNotReady, cli_command
from base_model_selector.study.types import Scenario, utc_now

MAX_ATTEMPTS = 4
"""Model calls per slot before it is reported as failed (empty, refusing or duplicate replies)."""
MAX_AVOID = 3
_OUTCOME_WORDS = {"empty": "empty", "refusal": "refusal", "duplicate": "near-duplicate of an accepted scenario"}
Outcome = Literal["accepted", "empty", "refusal", "duplicate"]
PROMPT_TEMPLATE = "scenario_prompt.md.j2"


# --------------------------------------------------------------------------- plan
class PlanReport(BaseModel):
    """What plan_scenarios tells its caller: coverage, counts per tag, warnings, and (on request) the slots."""

    path: str
    n: int
    seed: int
    edge_case_n: int
    coverage: Coverage
    counts: dict[str, dict[str, int]] = Field(description="Slots per topic, style, edge case and persona")
    warnings: list[str]
    slots: list[PlanSlot] | None = Field(default=None, description="Every slot, when asked for")
    text: str = Field(description="The human summary")

    def summary(self) -> str:
        return self.text

    @classmethod
    def of(cls, plan: ScenarioPlan, path: str, *, include_slots: bool = False) -> PlanReport:
        counts = {
            field: dict(Counter(getattr(s, field) for s in plan.slots if getattr(s, field)).most_common())
            for field in ("topic", "style", "edge_case", "persona")
        }
        return cls(
            path=path,
            n=plan.n,
            seed=plan.seed,
            edge_case_n=plan.edge_case_n,
            coverage=plan.coverage,
            counts=counts,
            warnings=plan.warnings,
            slots=plan.slots if include_slots else None,
            text=plan.summary() + f"\nWrote {path}. Next: generate_scenarios (CLI `generate`), or write them "
            "yourself and add them with add_scenarios.",
        )


def plan_scenarios(study: Study, n: int | None = None, seed: int | None = None) -> ScenarioPlan:
    """Make the stratified plan for n scenarios (default: study.yaml) and write scenarios/plan.json."""
    n = study.config.scenarios.n if n is None else n
    check_n(n)
    taxonomy = load_taxonomy(study.paths.taxonomy_yaml)
    plan = make_plan(
        taxonomy,
        n,
        study.config.scenarios.seed if seed is None else seed,
        taxonomy_sha256=file_sha256(study.paths.taxonomy_yaml),
    )
    orphans = [s for s in existing_scenarios(study) if s.slot and s.slot not in {x.slot for x in plan.slots}]
    if orphans:
        plan.warnings.append(
            f"{len(orphans)} generated scenarios in {study.paths.scenarios.name} fill slots that are not in this "
            "plan; they stay and will be run in the baseline. To start over, delete "
            f"{study.paths.scenarios} (and {study.paths.scenario_attempts.name}) and generate again"
        )
    with study.locked("plan scenarios"):
        study.write_json(study.paths.plan, plan)
    return plan


def plan_report(
    study: Study, n: int | None = None, seed: int | None = None, *, include_slots: bool = False
) -> PlanReport:
    """Plan (as `plan_scenarios`) and report it the way both shells show it: coverage, warnings, next step."""
    return PlanReport.of(plan_scenarios(study, n, seed), str(study.paths.plan), include_slots=include_slots)


def current_plan(study: Study, taxonomy: Taxonomy, n: int | None) -> tuple[ScenarioPlan, str | None]:
    """The plan on disk if it still matches n and taxonomy.yaml, else a new one (and why it was re-made).

    Without n, the plan on disk keeps its size; with no plan yet, study.yaml's scenarios.n is used.
    """
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    wanted = n if n is not None else plan.n if plan is not None else study.config.scenarios.n
    check_n(wanted)
    sha = file_sha256(study.paths.taxonomy_yaml)
    if plan is None:
        reason = None
    elif plan.taxonomy_sha256 != sha:
        reason = "taxonomy.yaml changed since the plan was made; re-planned"
    elif plan.n != wanted:
        reason = f"re-planned for n={wanted} (the plan on disk was for n={plan.n})"
    else:
        return plan, None
    return plan_scenarios(study, wanted), reason


# --------------------------------------------------------------------------- reading
def existing_scenarios(study: Study) -> list[Scenario]:
    return list(study.read_jsonl(study.paths.scenarios, Scenario).records)


def unfilled_slots(study: Study, scenarios: list[Scenario] | None = None) -> tuple[list[PlanSlot], int]:
    """The planned slots no scenario fills yet, and how many slots the plan has (0 without a plan)."""
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    if plan is None:
        return [], 0
    filled = {s.slot for s in (existing_scenarios(study) if scenarios is None else scenarios) if s.slot}
    return [s for s in plan.slots if s.slot not in filled], len(plan.slots)


def cells_text(slots: list[PlanSlot], limit: int = 5) -> str:
    """The cells of some slots, for a one-line message: `billing / refund request / terse ×2; …`."""
    counts = Counter(_cell(s) for s in slots)
    shown = [f"{cell}" + (f" ×{n}" if n > 1 else "") for cell, n in counts.most_common(limit)]
    more = len(counts) - limit
    return "; ".join(shown) + (f"; and {more} more cells" if more > 0 else "")


def dedup_index(scenarios: list[Scenario]) -> DedupIndex:
    index = DedupIndex()
    for s in scenarios:
        index.add(s.id, s.text)
    return index


# --------------------------------------------------------------------------- generation
class SlotFailure(BaseModel):
    slot: str = Field(description="The plan slot ID (add_scenarios takes {text, slot} to fill it by hand)")
    cell: str = Field(description="topic / subtopic / style (/ edge case) the slot stands for")
    reason: str = Field(description="Why it stayed empty: what the generator's replies were, or the server error")
    retryable: bool = Field(default=True, description="False when the server refused the request itself")


SLOTS_LISTED = 20
"""Failed slots listed one by one in a summary; beyond that they are counted per cell (the result lists all)."""


def failed_slot_lines(failed: list[SlotFailure]) -> list[str]:
    """Which slots stayed empty and why: each slot up to SLOTS_LISTED, else each cell with its count."""
    if len(failed) <= SLOTS_LISTED:
        return [f"    {f.slot} ({f.cell}): {f.reason}" for f in failed]
    by_cell = Counter(f.cell for f in failed)
    reasons = Counter(f.reason for f in failed)
    lines = [f"    {cell}: {count} slots" for cell, count in by_cell.most_common()]
    lines += [f"    why: {reason} ({count} slots)" for reason, count in reasons.most_common(3)]
    return lines


class GenerateResult(BaseModel):
    model: str
    planned: int
    generated: int = Field(description="New scenarios written in this run")
    already_done: int = Field(description="Slots filled before this run (no model calls)")
    failed: list[SlotFailure] = Field(default_factory=list)
    model_calls: int = 0
    rejected: dict[str, int] = Field(default_factory=dict, description="Rejected replies by reason")
    scenarios_total: int
    elapsed_s: float
    path: str
    warnings: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"Scenarios: {self.generated} written, {self.already_done} already there, {len(self.failed)} failed "
            f"of {self.planned} planned (generator {self.model}, {self.model_calls} calls, {self.elapsed_s:.1f}s)",
            f"  {self.scenarios_total} scenarios in {self.path}",
        ]
        if self.rejected:
            lines.append("  rejected replies: " + ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())))
        if self.failed:
            lines.append(f"  {len(self.failed)} planned slots could not be filled:")
            lines += failed_slot_lines(self.failed)
        if self.failed and all(f.retryable for f in self.failed):
            lines.append("  Re-run generate to retry the failed slots, or write them yourself with add_scenarios.")
        elif self.failed:
            lines.append(
                "  The server refused some requests and will refuse them again as they are: fix what the message "
                "names (a setting in study.yaml or on the server), then re-run generate."
            )
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class ScenarioAttempt(BaseModel):
    """One generator call, kept for audit in scenarios/generated.jsonl."""

    slot: str
    attempt: int
    model: str
    seed: int
    outcome: Outcome
    duplicate_of: str | None = None
    raw: str
    cleaned: str
    created_at: str = Field(default_factory=utc_now)


class GeneratorGaveUp(Exception):
    """A slot got only unusable replies: reported for that slot, the run goes on."""


class _SlotScenario(Scenario):
    """A generated scenario as the engine sees it: its resume key is the plan slot it fills."""

    @property
    def key(self) -> str | None:
        return self.slot


def generator_model(study: Study, override: str | None = None, candidate: str | None = None) -> tuple[str, list[str]]:
    """The model that writes scenarios: explicit, else scenarios.generator_model, else the judge, else the
    candidate under test (`candidate`, or the selected primary), with a warning, since a model writing its own
    test inputs flatters itself."""
    from base_model_selector.study.directory import active_model

    cfg = study.config
    chosen = (override or "").strip() or cfg.scenarios.generator_model or cfg.judge.model
    if chosen:
        return chosen, []
    candidate = active_model(study, candidate)
    if not candidate:
        root = str(study.root)
        raise StepNotReady(
            f"{study.paths.study_yaml}: no model to write scenarios with (no scenarios.generator_model, judge.model "
            "or selected candidate)",
            Fix(
                "configure_study",
                "set scenarios.generator_model (or judge.model) in study.yaml",
                {"study": root, "settings": {"scenarios.generator_model": "<model tag>"}},
            ),
            Fix("generate_scenarios", cli_command(root, "generate --model <tag>"), {"study": root, "model": "<tag>"}),
            Fix("add_scenarios", cli_command(root, "add-scenarios FILE"), {"study": root, "scenarios": []}),
        )
    return candidate, [
        f"the candidate {candidate} writes its own test scenarios; set scenarios.generator_model in study.yaml "
        "to a model of another family for less self-serving inputs"
    ]


def _seed(base: int, slot: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{base}\x1f{slot}\x1f{attempt}".encode()).hexdigest()
    return int(digest[:8], 16)


def _prompt(study: Study, taxonomy: Taxonomy, slot: PlanSlot, avoid: list[str]) -> str:
    topic = taxonomy.topic(slot.topic)
    sub = taxonomy.subtopic(slot.topic, slot.subtopic) if slot.subtopic else None
    style = taxonomy.style(slot.style)
    persona = taxonomy.persona(slot.persona) if slot.persona else None
    edge = taxonomy.edge_case(slot.edge_case) if slot.edge_case else None
    return templating.render(
        PROMPT_TEMPLATE,
        study.root,
        domain=study.config.domain,
        use_case=study.config.use_case.strip(),
        audience=taxonomy.description.strip(),
        topic=topic.name,
        topic_description=topic.description,
        subtopic=sub.name if sub else None,
        subtopic_description=sub.description if sub else "",
        examples=sub.examples if sub else [],
        style=style.name,
        style_description=style.description,
        persona=persona.name if persona else None,
        persona_description=persona.description if persona else "",
        edge_case=edge.name if edge else None,
        edge_case_description=edge.description if edge else "",
        edge_case_examples=edge.examples if edge else [],
        avoid=avoid[-MAX_AVOID:],
    )


def _cell(slot: PlanSlot) -> str:
    parts = [slot.topic, slot.subtopic, slot.style, slot.edge_case and f"edge: {slot.edge_case}"]
    return " / ".join(p for p in parts if p)


async def generate_scenarios(
    study: Study,
    *,
    n: int | None = None,
    model: str | None = None,
    candidate: str | None = None,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
) -> GenerateResult:
    """Write the opening message of every plan slot not yet filled (planning first when needed).

    `model` forces the generator; `candidate` is the model under test, the last fallback after study.yaml's
    generator and judge models (default: the primary chosen in step 2).
    """
    started = time.perf_counter()
    taxonomy = load_taxonomy(study.paths.taxonomy_yaml)
    plan, replanned = await asyncio.to_thread(current_plan, study, taxonomy, n)  # may plan: takes the lock
    tag, warnings = generator_model(study, model, candidate)
    warnings = ([replanned] if replanned else []) + warnings + list(plan.warnings)
    cfg = study.config.scenarios
    calls = 0
    rejected: dict[str, int] = {}
    log_lock = asyncio.Lock()

    async with study.locked_async("generate scenarios"):
        existing = existing_scenarios(study)
        index = dedup_index(existing)
        filled = {s.slot for s in existing if s.slot}

        async def log(attempt: ScenarioAttempt) -> None:
            async with log_lock:
                await asyncio.to_thread(study.append, study.paths.scenario_attempts, [attempt])

        async def write(item: WorkItem[PlanSlot]) -> _SlotScenario:
            nonlocal calls
            slot = item.payload
            avoid: list[str] = []
            outcome: Outcome = "empty"
            outcomes: Counter[str] = Counter()
            for attempt in range(MAX_ATTEMPTS):
                seed = _seed(cfg.seed, slot.slot, attempt)
                prompt = _prompt(study, taxonomy, slot, avoid)
                calls += 1
                reply = await server.chat(
                    tag,
                    [{"role": "user", "content": prompt}],
                    options={"temperature": cfg.temperature, "seed": seed, "num_predict": cfg.num_predict},
                    think=False,
                )
                text = clean_reply(reply.text)
                duplicate = None
                if not text:
                    outcome = "empty"
                elif is_refusal(text):
                    outcome = "refusal"
                else:
                    # Check and claim with no await in between, so concurrent slots cannot both take a text.
                    duplicate = index.duplicate_of(text)
                    outcome = "duplicate" if duplicate else "accepted"
                sid = scenario_id(slot.topic, slot.subtopic, slot.style, slot.edge_case, text) if text else ""
                if outcome == "accepted":
                    index.add(sid, text)
                else:
                    outcomes[outcome] += 1
                    rejected[outcome] = rejected.get(outcome, 0) + 1
                    if duplicate:
                        avoid.append(index.text(duplicate))
                await log(
                    ScenarioAttempt(
                        slot=slot.slot,
                        attempt=attempt,
                        model=tag,
                        seed=seed,
                        outcome=outcome,
                        duplicate_of=duplicate,
                        raw=reply.text,
                        cleaned=text,
                    )
                )
                if outcome == "accepted":
                    return _SlotScenario(
                        id=sid,
                        text=text,
                        topic=slot.topic,
                        subtopic=slot.subtopic,
                        style=slot.style,
                        edge_case=slot.edge_case,
                        persona=slot.persona,
                        origin="generated",
                        slot=slot.slot,
                    )
            kinds = ", ".join(f"{_OUTCOME_WORDS[k]} ×{n}" for k, n in outcomes.most_common())
            raise GeneratorGaveUp(f"all {MAX_ATTEMPTS} replies were unusable ({kinds})")

        items = [WorkItem(key=s.slot, payload=s, label=s.slot) for s in plan.slots]
        async with using(study.config.backend, backend) as server:
            if filled != {s.slot for s in plan.slots}:
                await server.show(tag)  # a generator the server lacks (or a typo it would answer anyway) fails now
            report = await run_work(
                items,
                write,
                study.paths.scenarios,
                append=study.append,
                concurrency=max(1, server.slots),
                retry=RetryPolicy.from_config(study.config.backend),
                progress=progress,
                done_keys=filled,
            )
    by_slot = {s.slot: s for s in plan.slots}
    failed = [
        SlotFailure(
            slot=f.key,
            cell=_cell(by_slot[f.key]),
            reason=f.error.removeprefix("GeneratorGaveUp: "),
            retryable=f.retryable,
        )
        for f in report.failed
    ]
    return GenerateResult(
        model=tag,
        planned=len(plan.slots),
        generated=report.done,
        already_done=report.skipped,
        failed=failed,
        model_calls=calls,
        rejected=rejected,
        scenarios_total=len(existing) + report.done,
        elapsed_s=round(time.perf_counter() - started, 3),
        path=str(study.paths.scenarios),
        warnings=warnings + list(report.warnings),
    )
