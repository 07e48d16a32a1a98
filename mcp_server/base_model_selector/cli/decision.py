"""Steps 7–8 on the command line: decide and write-doc."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import app, emit, open_study


@app.command(
    epilog="Exit codes: 0 decided; 1 decided but unusable (more judge ERRORs than judge.max_error_share; the "
    "decision says so first); 2 an error (the message says what to fix, e.g. items not judged yet)."
)
def decide(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="The judge the decision rests on: llm, agent, agent:<name>, human:<name>; default judge.mode"
        ),
    ] = None,
) -> None:
    """Pass rate with its Wilson 95% interval, the decision band, and the failure analysis (decision.json)."""
    from base_model_selector.decision.decide import decide as decide_core

    decision = decide_core(open_study(), model, judge=judge)
    emit(decision)
    if decision.unusable:
        raise typer.Exit(1)  # written, but too many judge ERRORs to act on (judge.max_error_share)


@app.command("write-doc")
def write_doc(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    qualitative: Annotated[
        str | None, typer.Option(help="Qualitative notes (Markdown); saved under '## Qualitative notes' in notes.md")
    ] = None,
    pattern: Annotated[
        list[str] | None,
        typer.Option(help="A failure pattern as ID=TEXT, e.g. CQ1='asks twice'; repeatable; saved to notes.md"),
    ] = None,
    next_steps: Annotated[str | None, typer.Option(help="The team's next steps (Markdown); saved to notes.md")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Document path inside the study; default: docs_path")
    ] = None,
    html: Annotated[bool, typer.Option(help="Also write an HTML copy next to the Markdown")] = False,
) -> None:
    """Write the decision document from decision.json and notes.md; its structure is checked before writing."""
    from base_model_selector.decision.report import write_decision_doc

    patterns = {}
    for item in pattern or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise typer.BadParameter(f"{item!r} is not ID=TEXT, e.g. CQ1='asks for the order number twice'")
        patterns[key.strip()] = text.strip()
    emit(
        write_decision_doc(
            open_study(),
            model,
            path=output,
            qualitative_notes=qualitative,
            failure_patterns=patterns or None,
            next_steps=next_steps,
            html=html,
        )
    )


@app.command()
def show(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    outcome: Annotated[str | None, typer.Option(help="passed, failed, or unjudged (answered, not yet judged)")] = None,
    criterion: Annotated[str | None, typer.Option(help="Only responses that failed this criterion")] = None,
    topic: Annotated[str | None, typer.Option(help="Only this taxonomy topic")] = None,
    subtopic: Annotated[str | None, typer.Option(help="Only this subtopic")] = None,
    style: Annotated[str | None, typer.Option(help="Only this style")] = None,
    edge_case: Annotated[str | None, typer.Option(help="Only this edge case")] = None,
    judge_error: Annotated[bool, typer.Option("--judge-error", help="Only responses with an ERROR verdict")] = False,
    truncated: Annotated[bool, typer.Option("--truncated", help="Only responses cut at num_predict")] = False,
    search: Annotated[str | None, typer.Option(help="Text in the scenario or the response")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many to show")] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first")] = 0,
    full: Annotated[bool, typer.Option("--full", help="Whole texts and every verdict")] = False,
) -> None:
    """Show scenarios with the model's responses and the judge's verdicts (filtered; topics interleaved)."""
    from base_model_selector.decision.samples import SampleFilter, show_samples

    filters = SampleFilter.model_validate(
        {
            "outcome": outcome,
            "criterion": criterion,
            "topic": topic,
            "subtopic": subtopic,
            "style": style,
            "edge_case": edge_case,
            "judge_error": judge_error or None,
            "truncated": truncated or None,
            "search": search,
        }
    )
    found = show_samples(open_study(), model, filters, max_chars=None if full else 600, all_verdicts=full)
    page = found.model_copy(update={"samples": found.samples[offset : offset + limit]})
    emit(page, page.render(offset=offset, total=found.matching))
