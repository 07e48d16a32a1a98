"""Step 6 on the command line: assess, and the pair next-batch / record for an agent or a person as judge."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import app, emit, named_file, open_study, rich_progress

# assess's exit codes (README, "Errors"): 2 is every project error, at the CLI's one boundary.
EXIT_FAILED_CALLS = 1
EXIT_PENDING = 3
JUDGE_HELP = "Who judges: agent:<name> or human:<name> (default agent:default)"


@app.command(
    epilog=(
        f"Exit codes: 0 every item is judged and the assessments are written; {EXIT_FAILED_CALLS} some judge calls "
        f"failed (run assess again to retry them); 2 an error (the message says what to fix); {EXIT_PENDING} items "
        "still await verdicts from the agent or a person (next-batch, then record)."
    )
)
def assess(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    agent: Annotated[
        bool, typer.Option("--agent", help="The decision rests on agent:default (judge.mode agent)")
    ] = False,
    llm: Annotated[bool, typer.Option("--llm", help="Judge with the judge model (overrides study.yaml)")] = False,
    judge: Annotated[
        str | None,
        typer.Option(help="The judge the decision rests on: llm, agent, agent:<name> or human:<name> (judge.mode)"),
    ] = None,
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

    chosen = [m for m, on in (("agent", agent), ("llm", llm), (judge, judge is not None)) if on]
    if len(chosen) > 1:
        raise typer.BadParameter("choose one of --agent, --llm and --judge", param_hint="--agent")
    study = open_study()
    with rich_progress("Judging") as progress:
        result = asyncio.run(
            assess_responses(
                study,
                model,
                mode=chosen[0] if chosen else None,
                batched=batched,
                rejudge_errors=rejudge_errors,
                agreement=agreement,
                agreement_sample=agreement_sample or None,
                progress=progress,
            )
        )
    emit(result)
    if result.state != "complete":
        raise typer.Exit(EXIT_FAILED_CALLS if result.state == "failed_calls" else EXIT_PENDING)


@app.command("next-batch")
def next_batch(
    model: Annotated[str | None, typer.Option(help="Model tag under test")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="How many items (at most)")] = 10,
    judge: Annotated[str, typer.Option(help=JUDGE_HELP)] = "agent:default",
    context_hash: Annotated[
        str | None, typer.Option(help="The context_hash of an earlier batch: leave the rubric and prompt out")
    ] = None,
) -> None:
    """Print items the judge has not judged yet, grouped by response, with the rubric (JSON with --json)."""
    from base_model_selector.judging.agent_judge import next_assessment_batch

    emit(next_assessment_batch(open_study(), model, k, judge=judge, context_hash=context_hash))


@app.command()
def record(
    file: Annotated[str, typer.Argument(help="JSON list or JSONL of {item_id, reasoning, answer[, comment]}")],
    model: Annotated[str | None, typer.Option(help="Model tag under test")] = None,
    judge: Annotated[str, typer.Option(help=JUDGE_HELP + "; a person's verdict overrides the primary judge")] = (
        "agent:default"
    ),
) -> None:
    """Record verdicts on items from `next-batch` (all or nothing) and re-score the responses."""
    from base_model_selector.judging.agent_judge import load_verdicts_file, record_assessments

    study = open_study()
    emit(record_assessments(study, load_verdicts_file(named_file(study, file)), model, judge=judge))
