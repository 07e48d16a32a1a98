"""Step 8: the decision document — what the team reads, reviews and commits.

It is rendered from a jinja2 template (`templates/decision_doc.md.j2`, overridable from the study's own
`templates/`) with values taken only from the study's files: research, selection, model facts, decision. The tool
never writes opinions: qualitative notes, failure patterns and the team's next steps come from notes.md (or the
tool's arguments, merged into notes.md), and where none exist the document says what is missing and how to add
it. The rendered Markdown is parsed with markdown-it-py and checked before anything is written — required
headings in order, every table row with its header's column count, the chart present — so a broken template or
an unlucky note fails loudly instead of producing a quietly broken document. Optional HTML goes next to it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from base_model_selector import __version__
from base_model_selector.decision import notes as notes_mod
from base_model_selector.decision import provenance
from base_model_selector.decision.decide import Decision
from base_model_selector.decision.document_check import check_document, render_html
from base_model_selector.study import storage, untrusted
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StepNotReady, StudyError, cli_command
from base_model_selector.study.types import ModelFacts, Selection

TEMPLATE = "decision_doc.md.j2"
NOTES_HINT = "notes.md"


class DocumentInvalid(StudyError):
    """The rendered document failed its own structure check; nothing was written."""


class DecisionDoc(BaseModel):
    model: str
    path: str
    html_path: str | None = None
    decision: str = Field(description="The decision line, e.g. 'Fine-tune (inconclusive)'")
    missing: list[str] = Field(default_factory=list, description="Human input the document still lacks")
    warnings: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Wrote {self.path}" + (f" and {self.html_path}" if self.html_path else "") + f" — {self.decision}"]
        lines += [f"  Missing: {m}" for m in self.missing]
        lines += [f"  Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ formatting
def pct(value: float | None) -> str:
    if value is None:
        return "—"
    scaled = value * 100
    return f"{scaled:.0f}%" if abs(scaled - round(scaled)) < 0.05 else f"{scaled:.1f}%"


def secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def cell(text: object) -> str:
    """Any text as one Markdown table cell that renders literally (no links, images, HTML or column breaks)."""
    return untrusted.md_inline(text) or "—"


def quote(text: object) -> str:
    """Untrusted text (a scenario, a response, a judge's reasoning) as one inert, literal line of Markdown."""
    return untrusted.md_inline(text) or "—"


def code(text: object) -> str:
    """A model tag, ID or file name as a code span nothing inside can close."""
    return untrusted.md_code(text, table=True) or "—"


def notes_markdown(text: str) -> str:
    """The team's notes: still Markdown, but with headings demoted below the document's outline and nothing that
    loads a remote resource or links anywhere but the web (the notes may quote a model's reply)."""
    return untrusted.md_defang(demote_headings(text))


def demote_headings(markdown: str) -> str:
    """Headings inside person-written notes become level 4, so they cannot break the document's outline."""
    out, fence = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if not fence and re.match(r"^ {0,3}#{1,3}\s", line):
            line = "#### " + line.lstrip().lstrip("#").lstrip()
        out.append(line)
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ the context
def _research(study: Study, model: str) -> dict[str, Any]:
    """Step 1–2 evidence as the method's Research Summary: a few sentences built from the facts (how many models
    were considered, why the primary, why the backup) and, for every other model, why it was not chosen."""
    from base_model_selector.research.candidates import read_candidates
    from base_model_selector.research.compare import read_table, table_of
    from base_model_selector.research.summary import research_summary

    selection = study.read_json(study.paths.selection, Selection)
    table = read_table(study)
    if table is None:
        candidates = read_candidates(study)
        table = table_of(candidates) if candidates is not None else None
    summary = research_summary(table, selection) if table is not None else None
    rows = [r.model_dump() for r in summary.rows] if summary is not None else []
    picked = {r.id for r in [*table.rows, *table.near_range]} if table is not None else set()
    if selection is not None:  # chosen without a research entry (e.g. added by hand)
        for kind, chosen in (("Selected", selection.primary), ("Backup", selection.backup)):
            if chosen is not None and chosen.candidate_id not in picked:
                rows.append(
                    {"model": chosen.name, "fit": "—", "considered": "—", "outcome": f"{kind}: {chosen.rationale}"}
                )
    missing = (
        f"No research recorded for this study: the model {code(model)} was given directly. Run step 1 "
        "(`research_candidates`, CLI `research`) and step 2 (`select_model`, CLI `select`) to document why it "
        "was chosen."
    )
    return {"sentences": summary.sentences if summary is not None else [], "rows": rows, "missing": missing}


def _selected(study: Study, model: str) -> dict[str, Any]:
    facts = study.read_json(study.paths.model_facts(model), ModelFacts)
    if facts is None:
        hint = f"unknown — run `check_model` (CLI `check --model {model}`)"
        return {"model": model, "parameters": hint, "licence": hint, "context": hint, "notes": []}
    silent = "not reported by the server" if facts.not_reported else "unknown"
    size = facts.parameter_size or (f"{facts.parameters_b:g}B" if facts.parameters_b else None)
    params = " ".join(x for x in (size, facts.quantization) if x) or silent
    runtime = facts.server.context_tokens if facts.server is not None else None
    context = f"{facts.context_length:,} tokens" if facts.context_length else silent
    if runtime:
        context += f" (runtime: {runtime:,} per request)"
    notes = [
        f"Differs from the catalog: {f.field}: catalog {f.catalog}, server {f.server}"
        for f in facts.comparisons
        if f.status == "differ"
    ]
    if facts.not_reported:
        kind = f" ({facts.server.kind})" if facts.server is not None else ""
        notes.append(f"Not reported by the server{kind}: {', '.join(facts.not_reported)}.")
    notes += [f"Check: {w}" for w in facts.warnings]
    return {
        "model": f"{model}" + (f" ({facts.family})" if facts.family else ""),
        "parameters": params,
        "licence": facts.license_first_line or silent,
        "context": context,
        "notes": notes,
        "digest": facts.digest,
    }


def _next_steps(study: Study, decision: Decision) -> list[str]:
    v, f = decision.verdict, decision.failures
    steps = [v.action]
    if v.inconclusive and v.settle_more:
        steps.append(
            f"Add about {v.settle_more} scenarios ({v.settle_total} in total: raise `scenarios.n` in study.yaml) "
            "and re-run `evaluate` to settle the decision."
        )
    elif v.inconclusive:
        steps.append(
            "More scenarios at this pass rate will not settle the decision; decide with the failure analysis and "
            "a qualitative review of the responses."
        )
    if decision.unusable:
        steps.insert(0, f"Do not act on this decision: {decision.unusable}.")
    if f.judge_errors:
        steps.append(
            f"Judge ERRORs count as failures now ({f.judge_errors}); re-judge them with `assess --rejudge-errors`."
        )
    if f.truncated:
        steps.append(
            f"Responses cut at `generation.num_predict` ({study.config.generation.num_predict}): "
            f"{len(f.truncated)}; raise it and re-run the baseline to rule out truncation as a cause of failures."
        )
    if decision.judge.self_judged:
        steps.append("Re-assess with a judge from another model family (`judge.model` in study.yaml).")
    return steps


def _judge(decision: Decision) -> dict[str, Any]:
    """The judge reliability section: the judge the decision rests on, and each comparison with it."""
    from base_model_selector.judging.agreement import MIN_PER_CRITERION
    from base_model_selector.judging.judges import describe

    def kappa(value: float | None) -> str:
        return "undefined" if value is None else f"{value:.2f}"

    j = decision.judge
    rows = [
        {
            "a": a.judge_a,
            "b": a.judge_b,
            "n": a.sample,
            "how": a.sampling,
            "agreement": pct(a.percent_agreement) if a.sample else "—",
            "kappa": kappa(a.kappa),
        }
        for a in j.agreements
    ]
    per = [
        {
            "b": a.judge_b,
            "criterion": c.criterion_id,
            "n": c.n,
            "agreement": pct(c.percent_agreement),
            "kappa": kappa(c.kappa),
        }
        for a in j.agreements
        for c in a.by_criterion
        if c.n >= MIN_PER_CRITERION
    ]
    low = [a.warning for a in j.agreements if a.warning]
    return {
        "primary": describe(j.judge, j.settings),
        "rows": rows,
        "per_criterion": per,
        "min_per_criterion": MIN_PER_CRITERION,
        "low": low,
        "other_warnings": [w for w in j.warnings if w not in low],
    }


def _reasons_text(c: Any) -> str:
    parts = [f'"{r.text}" ×{r.count}' for r in c.recurring_reasons]
    parts += [f'"{r.text}" ×{r.count}' for r in c.recurring_phrases if all(r.text not in p for p in parts)]
    return "; ".join(parts[:4])


def build_context(
    study: Study,
    model: str,
    decision: Decision,
    notes: notes_mod.Notes,
    *,
    today: str,
    version: str,
    notes_text: str | None = None,
) -> dict[str, Any]:
    failing = [c.model_dump() | {"reasons_text": _reasons_text(c)} for c in decision.failures.criteria if c.failures]
    groups = [g for g in decision.failures.groups if g.dimension != "cell"]
    groups += [g for g in decision.failures.groups if g.dimension == "cell" and g.failed][:10]
    chart = list(decision.failures.criteria)
    selected = _selected(study, model)
    hashes = provenance.file_hashes(study, model, notes_text=notes_text)
    how = f"add them under `## {{}}` in {study.paths.notes_md.name} or with `write_decision_doc`, then re-render"
    return {
        "domain": study.config.domain,
        "demonstration": study.config.demonstration,
        "use_case": " ".join(study.config.use_case.split()),
        "study_name": study.root.name,
        "model": model,
        "date": today,
        "version": version,
        "research": _research(study, model),
        "selected": selected,
        "decision": decision,
        "failing": failing,
        "groups": groups,
        "examples": [c for c in decision.failures.criteria if c.examples],
        "patterns": notes.patterns,
        "notes": {
            "qualitative": notes_markdown(notes.qualitative),
            "next_steps": notes_markdown(notes.next_steps),
        },
        "missing": {
            "pattern": f"not yet written — add `- ID: …` under `## {notes_mod.PATTERNS}` in notes.md",
            "qualitative": "Qualitative notes not yet written — " + how.format(notes_mod.QUALITATIVE),
            "next_steps": "The team's own next steps are not yet written — " + how.format(notes_mod.NEXT_STEPS),
        },
        "next_steps": _next_steps(study, decision),
        "judge": _judge(decision),
        "chart": {
            "labels": [f'"{c.criterion_id.replace(chr(34), "")}"' for c in chart],
            "rates": [f"{c.rate * 100:.1f}" for c in chart],
        },
        "reproducibility": provenance.reproducibility(study, model, decision, version, selected.get("digest")),
        "hashes": hashes,
        "pct": pct,
        "secs": secs,
        "cell": cell,
        "quote": quote,
        "inline": untrusted.md_inline,
        "code": code,
    }


# ------------------------------------------------------------------------------------------------ render and write
def missing_notes(decision: Decision, notes: notes_mod.Notes, notes_file: str = NOTES_HINT) -> list[str]:
    """The person's words the document still lacks: qualitative notes, and a pattern for each failing criterion."""
    missing = []
    if not notes.qualitative:
        missing.append(f"qualitative notes (`## {notes_mod.QUALITATIVE}` in {notes_file}, or qualitative_notes)")
    failing = [c.criterion_id for c in decision.failures.criteria if c.failures]
    unexplained = [cid for cid in failing if cid not in notes.patterns]
    if unexplained:
        missing.append(f"failure patterns for {', '.join(unexplained)} (failure_patterns, or `- ID: …` lines)")
    return missing


def render_document(
    study: Study,
    model: str,
    decision: Decision,
    notes: notes_mod.Notes,
    *,
    today: str | None = None,
    version: str = __version__,
    notes_text: str | None = None,
) -> str:
    """The checked Markdown of the decision document; raises DocumentInvalid instead of returning a broken one.

    Its date is the decision's (not today's), so re-rendering an unchanged study gives the same bytes.
    """
    import jinja2

    from base_model_selector.study import templating

    today = today or decision.decided_at[:10]
    context = build_context(study, model, decision, notes, today=today, version=version, notes_text=notes_text)
    source = _template_source(study)
    try:
        text = untrusted.clean(templating.render(TEMPLATE, study.root, **context), multiline=True)
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as err:
        lineno = getattr(err, "lineno", None)
        line = f" (line {lineno})" if lineno else ""
        raise DocumentInvalid(
            f"{source}{line}: the decision template failed to render: {err}; fix the template"
        ) from err
    problems = check_document(text)
    if problems:
        raise DocumentInvalid(
            f"the decision document rendered from {source} failed its structure check, so nothing was written: "
            + "; ".join(problems)
            + f". Fix the template or the notes in {study.paths.notes_md}"
        )
    return text


def _template_source(study: Study) -> str:
    override = study.root / "templates" / TEMPLATE
    return str(override) if override.is_file() else f"the shipped {TEMPLATE}"


def write_decision_doc(
    study: Study,
    model: str | None = None,
    *,
    path: str | None = None,
    qualitative_notes: str | None = None,
    failure_patterns: dict[str, str] | None = None,
    next_steps: str | None = None,
    html: bool = False,
    today: str | None = None,
    version: str = __version__,
) -> DecisionDoc:
    """Step 8: render, check and write the decision document (and optional HTML); merge given notes into notes.md."""
    from base_model_selector.serving.pull import model_under_test

    model = model_under_test(study, model)
    decision = study.read_json(study.paths.decision(model), Decision)
    if decision is None:
        raise StepNotReady(
            f"{study.paths.decision(model)}: not found; decide first",
            Fix(
                "decide", cli_command(study.root, f"decide --model {model}"), {"study": str(study.root), "model": model}
            ),
        )
    target = study.docs_path(path)
    if target.suffix.lower() not in (".md", ".markdown"):
        raise StudyError(f"docs path {target}: must end in .md (the document is Markdown)")
    notes_path = study.paths.notes_md
    notes_text = notes_mod.read_notes_text(notes_path)
    given = qualitative_notes is not None or failure_patterns or next_steps is not None
    if given:
        notes_text = notes_mod.merge_notes(
            notes_text, qualitative=qualitative_notes, patterns=failure_patterns, next_steps=next_steps
        )
    notes = notes_mod.parse_notes(notes_text)
    written_notes = notes_text if (given or notes_path.exists()) else None
    text = render_document(study, model, decision, notes, today=today, version=version, notes_text=written_notes)
    html_text = render_html(text, f"Base model evaluation: {study.config.domain}") if html else None
    text += (
        "\n"
        + provenance.marker(
            study,
            target,
            decision_sha256=provenance.sha256_file(study.paths.decision(model)),
            notes_sha256=provenance.sha256_text(written_notes),
        )
        + "\n"
    )
    warnings = list(decision.warnings)
    if decision.assessments_sha256 != provenance.sha256_file(study.paths.assessments(model)):
        warnings.append("the assessments changed after the decision was made; re-run `decide` and re-render")
    html_path = target.with_suffix(".html") if html else None
    with study.locked(f"write decision document for {model}"):
        provenance.refuse_foreign(study, target)
        if given:
            study.write_text(notes_path, notes_text)
        study.write_text(target, text)
        if html_path is not None and html_text is not None:
            # The sibling of a path study.docs_path() accepted; write_text only knows the .md itself.
            storage.write_text_if_changed(html_path, html_text)
    missing = missing_notes(decision, notes, notes_path.name)
    label = decision.verdict.label + (" (inconclusive)" if decision.verdict.inconclusive else "")
    if decision.unusable:
        label = f"UNUSABLE ({label} on paper): {decision.unusable}"
    return DecisionDoc(
        model=model,
        path=str(target),
        html_path=str(html_path) if html_path else None,
        decision=f"{decision.pass_rate.passed}/{decision.pass_rate.assessed} passed → {label}",
        missing=missing,
        warnings=warnings,
    )
