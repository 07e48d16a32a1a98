"""Steps 7–8 on the command line: decide and write-doc."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import app, emit, open_study


@app.command()
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

    emit(decide_core(open_study(), model, judge=judge))


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
