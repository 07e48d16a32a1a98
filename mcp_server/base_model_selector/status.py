"""Where a study stands: done, pending or stale for each of the eight steps, derived only from its files.

Nothing is remembered outside the study directory, so status is always the truth on disk: a step is done when
its output exists (and, for the per-scenario steps, covers every scenario), stale when an input it was derived
from has changed since, pending otherwise. Steps 6–8 compare content: the assessments must rest on the judge
judge.mode names and match the rubric, responses and recorded verdicts; the decision records the hash of the
assessments it was made from, and the document the hashes of its decision and notes; step 7 is stale whenever
step 6 is not done, and step 8 whenever step 7 is not. Earlier steps compare modification times, as make does.
The next action names the exact MCP tool and CLI command, so an agent or a person never has to guess.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from base_model_selector.study.directory import Study, active_model
from base_model_selector.study.errors import BMSError
from base_model_selector.study.storage import read_jsonl

State = Literal["done", "pending", "stale"]


class StepStatus(BaseModel):
    number: int
    name: str
    state: State
    detail: str
    tools: list[str]
    cli: str


class StudyStatus(BaseModel):
    study: str
    domain: str
    model: str | None
    steps: list[StepStatus]
    next_step: int | None
    next_action: str
    warnings: list[str] = []

    def summary(self) -> str:
        marks = {"done": "✔", "pending": "·", "stale": "!"}
        lines = [f"Study {self.study} — {self.domain}" + (f" — model {self.model}" if self.model else "")]
        lines += [f"  {marks[s.state]} {s.number}. {s.name}: {s.state} — {s.detail}" for s in self.steps]
        lines.append(f"Next: {self.next_action}")
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Step:
    number: int
    name: str
    tools: tuple[str, ...]
    cli: str
    probe: Callable[[Study, str | None], tuple[State, str, list[Path]]]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _stale_against(output: Path, inputs: list[Path]) -> list[Path]:
    out_time = _mtime(output)
    return [p for p in inputs if p.exists() and _mtime(p) > out_time]


def _rel(study: Study, path: Path) -> str:
    return os.path.relpath(path, study.root)


def _file_step(
    output_of: Callable[[Study, str | None], Path | None],
    inputs_of: Callable[[Study, str | None], list[Path]],
    what: str,
):
    def probe(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
        output = output_of(study, model)
        if output is None:
            return "pending", "choose a model first (step 2, or pass --model)", []
        if not output.exists():
            return "pending", f"no {what} yet ({_rel(study, output)})", []
        return "done", f"{what}: {_rel(study, output)}", inputs_of(study, model)

    return probe


def _answered(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
    """Step 5 is done when every scenario has a response to the request the baseline would send now.

    Responses are keyed by (model digest, messages, options), so a changed system prompt or generation setting
    shows here as stale rather than done, and `run` re-asks exactly those scenarios.
    """
    from base_model_selector.baseline.run import (  # the engine's key function, imported only for status
        baseline_items,
        read_scenarios,
    )

    if model is None:
        return "pending", "choose a model first (step 2, or pass --model)", []
    scenarios, _ = read_scenarios(study)
    if not scenarios:
        return "pending", "no scenarios yet (step 4)", []
    records = [r for r in read_jsonl(study.paths.responses(model)).records if isinstance(r, dict)]
    keys = {r.get("key") for r in records}
    digest = records[-1].get("digest") if records else None
    current = [item for item in baseline_items(study, model, digest, scenarios) if item.key in keys]
    answered_before = {r.get("scenario_id") for r in records} - {item.label for item in current}
    n, have = len(scenarios), len(current)
    if have == n:
        return "done", f"{have}/{n} scenarios answered", [study.paths.scenarios]
    if answered_before & {s.id for s in scenarios}:
        return (
            "stale",
            (
                f"{have}/{n} scenarios answered with the current settings; the others were answered before the system "
                "prompt, generation settings or model changed"
            ),
            [],
        )
    return "pending", f"{have}/{n} scenarios answered", []


def _researched(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
    """Step 1 is stale only when what it was researched for changed, not on any edit of study.yaml.

    candidates.json records the domain, size range, licence need and longest input it was built for; a change to
    thresholds or scenario counts leaves the research valid.
    """
    path, cfg = study.paths.candidates, study.config
    if not path.exists():
        return "pending", f"no candidates yet ({_rel(study, path)})", []
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        was = {k: found[k] for k in ("domain", "size_min_b", "size_max_b", "commercial_use", "longest_input_tokens")}
    except (OSError, ValueError, KeyError, TypeError):
        return "pending", f"{_rel(study, path)} is unreadable; run research again", []
    now = {
        "domain": cfg.domain,
        "size_min_b": cfg.size_b.min,
        "size_max_b": cfg.size_b.max,
        "commercial_use": cfg.commercial_use,
        "longest_input_tokens": cfg.max_turns * 2 * cfg.tokens_per_message,
    }
    changed = [f"{k} {was[k]!r} → {now[k]!r}" for k in now if was[k] != now[k]]
    if changed:
        return "stale", f"researched for other settings ({'; '.join(changed)})", []
    inputs = [study.paths.user_catalog, study.paths.added_candidates]
    return "done", f"{len(found.get('candidates', []))} candidates: {_rel(study, path)}", inputs


def _assessed(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
    """Step 6 is done when the assessments rest on the judge judge.mode names, cover every item, and match the
    rubric, the responses and the verdicts recorded since; the judge's identity, settings and prompts are inputs."""
    from base_model_selector.judging import results

    if model is None:
        return "pending", "choose a model first (step 2, or pass --model)", []
    try:
        st = results.state(study, model)
    except BMSError as err:
        return "pending", str(err).split(" — ")[0], []
    report = results.previous_report(study, model)
    path = _rel(study, study.paths.assessments(model))
    rests_on = report.basis.judge if report is not None else None
    if not st.complete:
        if rests_on is not None and st.primary.kind == "llm" and st.keys is None and st.primary.matches(rests_on):
            return (
                "stale",
                f"{path} rests on {rests_on}, but its prompts or settings changed since (system prompt, "
                "template, rubric, responses or judge settings); re-run assess: only what changed is judged again",
                [],
            )
        note = f"; {path} rests on {rests_on}" if rests_on and rests_on != st.identity else ""
        return "pending", f"{st.coverage()} (judge.mode: {st.primary.mode}){note}", []
    expected = st.identity if st.inputs.rubric.criteria else results.CHECKS_ONLY
    if report is None or report.basis.judge != expected:
        was = f" (it rests on {rests_on})" if rests_on else ""
        return "pending", f"every item is judged by {st.identity}; score them with assess{was}", []
    b = report.basis
    changed = [
        what
        for what, before, now in (
            ("rubric.yaml", b.rubric_sha256, results.rubric_sha256(study)),
            ("the responses", b.responses_sha256, results.responses_sha256(st.inputs)),
            ("the recorded verdicts", (b.judged, b.overridden), (st.judged, st.overridden)),
        )
        if before != now
    ]
    if changed:
        return "stale", f"{path} — changed since: {', '.join(changed)}", []
    o = report.summary
    return "done", f"{o.passed}/{o.n} pass ({o.pass_rate:.0%}), judge {o.judge}: {path}", []


def _decided(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
    """Step 7 is stale when the assessments or the thresholds it was decided from changed (by content)."""
    from base_model_selector.decision.decide import Decision
    from base_model_selector.decision.provenance import sha256_file

    if model is None:
        return "pending", "choose a model first (step 2, or pass --model)", []
    path = study.paths.decision(model)
    if not path.exists():
        return "pending", f"no decision yet ({_rel(study, path)})", []
    try:
        decision = study.read_json(path, Decision)
    except BMSError:
        return "stale", f"{_rel(study, path)} is from an older version; decide again", []
    assert decision is not None
    changed = []
    if decision.assessments_sha256 != sha256_file(study.paths.assessments(model)):
        changed.append(study.paths.assessments(model).name)
    if decision.thresholds != study.config.thresholds:
        changed.append("thresholds in study.yaml")
    label = decision.verdict.label + (" (inconclusive)" if decision.verdict.inconclusive else "")
    detail = f"{decision.pass_rate.passed}/{decision.pass_rate.assessed} passed → {label}: {_rel(study, path)}"
    if changed:
        return "stale", f"{detail} — changed since: {', '.join(changed)}", []
    return "done", detail, []


def _documented(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
    """Step 8 is stale when the decision or notes.md it was rendered from changed; pending when the document at
    docs_path belongs to another study."""
    from base_model_selector.decision import provenance

    path = study.docs_path()
    if model is None:
        return "pending", "choose a model first (step 2, or pass --model)", []
    if not path.exists():
        return "pending", f"no document yet ({_rel(study, path)})", []
    owner = provenance.owner(path)
    if owner is not None and owner != study.root:
        return "pending", f"{_rel(study, path)} belongs to the study {owner}; set docs_path in study.yaml", []
    found = provenance.read_marker(path)
    if found is None:
        return "stale", f"{_rel(study, path)} has no record of what it was rendered from; re-render it", []
    changed = []
    if found["decision"] != provenance.sha256_file(study.paths.decision(model)):
        changed.append(study.paths.decision(model).name)
    if found["notes"] != provenance.sha256_file(study.paths.notes_md):
        changed.append(study.paths.notes_md.name)
    if changed:
        return "stale", f"{_rel(study, path)} — changed since: {', '.join(changed)}", []
    return "done", f"document: {_rel(study, path)}", []


def _scenarios_written(study: Study, model: str | None) -> tuple[State, str, list[Path]]:
    """Step 4 is done when the scenarios fill the plan (or, with no plan, when any exist)."""
    path, plan_path = study.paths.scenarios, study.paths.plan
    records = [r for r in read_jsonl(path).records if isinstance(r, dict)]
    inputs = [study.paths.taxonomy_yaml]
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8")) if plan_path.exists() else None
        slots = {s["slot"] for s in plan["slots"]} if isinstance(plan, dict) else set()
    except (OSError, ValueError, KeyError, TypeError):
        return "pending", f"{_rel(study, plan_path)} is unreadable; run plan_scenarios again", []
    if not slots:
        if not records:
            return (
                "pending",
                f"no scenarios yet ({_rel(study, path)}); write taxonomy.yaml (write_taxonomy), then plan",
                [],
            )
        return "done", f"{len(records)} scenarios: {_rel(study, path)}", inputs
    filled = {r.get("slot") for r in records} & slots
    if len(filled) < len(slots) and len(records) < len(slots):
        return "pending", f"{len(filled)}/{len(slots)} planned scenarios written ({_rel(study, path)})", []
    return "done", f"{len(records)} scenarios ({len(filled)}/{len(slots)} planned): {_rel(study, path)}", inputs


STEPS: tuple[_Step, ...] = (
    _Step(
        1,
        "Research candidates",
        ("search_web", "research_candidates"),
        "research",
        _researched,
    ),
    _Step(
        2,
        "Compare and select",
        ("build_comparison_table", "select_model"),
        "table; select",
        _file_step(lambda s, m: s.paths.selection, lambda s, m: [s.paths.candidates], "selection"),
    ),
    _Step(
        3,
        "Pull and verify the model",
        ("pull_model", "check_model"),
        "pull; check",
        _file_step(
            lambda s, m: s.paths.model_facts(m) if m else None,
            lambda s, m: [s.paths.selection],
            "model facts",
        ),
    ),
    _Step(
        4,
        "Generate scenarios",
        ("write_taxonomy", "plan_scenarios", "generate_scenarios", "add_scenarios", "show_samples"),
        "plan; generate",
        _scenarios_written,
    ),
    _Step(
        5,
        "Run the baseline",
        ("run_baseline",),
        "run",
        _answered,
    ),
    _Step(
        6,
        "Assess the responses",
        ("write_rubric", "assess_responses", "next_assessment_batch", "record_assessments"),
        "assess",
        _assessed,
    ),
    _Step(
        7,
        "Decide",
        ("decide",),
        "decide",
        _decided,
    ),
    _Step(
        8,
        "Write the decision document",
        ("write_decision_doc",),
        "write-doc",
        _documented,
    ),
)


def study_status(study: Study, model: str | None = None) -> StudyStatus:
    model = active_model(study, model)
    steps: list[StepStatus] = []
    for step in STEPS:
        state, detail, inputs = step.probe(study, model)
        if step.number in (7, 8) and state == "done" and steps[-1].state != "done":
            state, detail = "stale", f"{detail} — step {steps[-1].number} is {steps[-1].state}"
        if state == "done" and inputs:
            output_time_path = _step_output(study, step.number, model)
            changed = _stale_against(output_time_path, inputs) if output_time_path else []
            if changed:
                state = "stale"
                detail += " — changed since: " + ", ".join(p.name for p in changed)
        steps.append(
            StepStatus(
                number=step.number,
                name=step.name,
                state=state,
                detail=detail,
                tools=list(step.tools),
                cli=step.cli,
            )
        )
    nxt = next((s for s in steps if s.state != "done"), None)
    if nxt is None:
        action = "All eight steps are done. Review the decision document with the user."
    else:
        cli = " / ".join(f"`base-model-selector --study {study.root} {c.strip()}`" for c in nxt.cli.split(";"))
        verb = "re-run" if nxt.state == "stale" else "run"
        action = f"Step {nxt.number} ({nxt.name}): {verb} MCP tool {' / '.join(nxt.tools)} — CLI {cli}"
    return StudyStatus(
        study=str(study.root),
        domain=study.config.domain,
        model=model,
        steps=steps,
        next_step=nxt.number if nxt else None,
        next_action=action,
        warnings=_judge_warnings(study, model) if steps[5].state == "done" else [],
    )


def _judge_warnings(study: Study, model: str | None) -> list[str]:
    """Low agreement between judges, repeated here so nobody acts on the pass rate without seeing it."""
    from base_model_selector.judging.results import previous_report

    report = previous_report(study, model) if model else None
    return [a.warning for a in report.summary.agreements if a.warning] if report else []


def _step_output(study: Study, number: int, model: str | None) -> Path | None:
    p = study.paths
    per_model = {3: p.model_facts, 5: p.responses, 6: p.assessments, 7: p.decision}
    if number in per_model:
        return per_model[number](model) if model else None
    return {1: p.candidates, 2: p.selection, 4: p.scenarios, 8: study.docs_path()}.get(number)
