"""Step 6 on the command line: assess, and the agent-as-judge pair next-batch / record."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from base_model_selector.cli.app import app, emit, named_file, open_study, rich_progress


@app.command()
def assess(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    agent: Annotated[bool, typer.Option("--agent", help="Score the verdicts recorded with `record`")] = False,
    llm: Annotated[bool, typer.Option("--llm", help="Judge with the judge model (overrides study.yaml)")] = False,
    batched: Annotated[
        bool | None, typer.Option("--batched/--per-criterion", help="One judge call per response, or per criterion")
    ] = None,
    rejudge_errors: Annotated[bool, typer.Option(help="Judge again the verdicts that were ERROR")] = False,
    agreement: Annotated[
        bool | None, typer.Option("--agreement/--no-agreement", help="Re-judge a sample; report agreement and kappa")
    ] = None,
    agreement_sample: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share to re-judge (default 0.1, at least 5)")
    ] = None,
) -> None:
    """Judge the baseline responses against rubric.yaml, apply the pass rule, write assessments.json."""
    import asyncio

    from base_model_selector.judging.assessment import assess_responses

    if agent and llm:
        raise typer.BadParameter("choose --agent or --llm, not both", param_hint="--agent")
    mode: Literal["llm", "agent"] | None = "agent" if agent else "llm" if llm else None
    study = open_study()
    with rich_progress("Judging") as progress:
        result = asyncio.run(
            assess_responses(
                study,
                model,
                mode=mode,
                batched=batched,
                rejudge_errors=rejudge_errors,
                agreement=agreement,
                agreement_sample=agreement_sample or None,
                progress=progress,
            )
        )
    emit(result)


@app.command("next-batch")
def next_batch(
    model: Annotated[str | None, typer.Option(help="Model tag under test")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="How many pending items")] = 10,
) -> None:
    """Print pending (scenario, response, criterion) items for an agent or a person to judge (JSON)."""
    from base_model_selector.judging.agent_judge import next_assessment_batch

    emit(next_assessment_batch(open_study(), model, k))


@app.command()
def record(
    file: Annotated[str, typer.Argument(help="JSON list or JSONL of {item_id, reasoning, answer} verdicts")],
    model: Annotated[str | None, typer.Option(help="Model tag under test")] = None,
) -> None:
    """Record verdicts on items from `next-batch` (all or nothing) and re-score the responses."""
    from base_model_selector.judging.agent_judge import load_verdicts_file, record_assessments

    study = open_study()
    emit(record_assessments(study, load_verdicts_file(named_file(study, file)), model))
