"""Step 4 on the command line: plan, generate, add-scenarios."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import app, emit, named_file, open_study, rich_progress


@app.command()
def plan(
    n: Annotated[int | None, typer.Option("--n", "-n", help="How many scenarios (default: scenarios.n)")] = None,
    seed: Annotated[int | None, typer.Option(help="Plan seed (default: scenarios.seed)")] = None,
    slots: Annotated[bool, typer.Option("--slots", help="Include every slot in the --json output")] = False,
) -> None:
    """Plan the scenarios across taxonomy.yaml (coverage, warnings) and write scenarios/plan.json."""
    from base_model_selector.scenarios.generate import plan_report

    emit(plan_report(open_study(), n, seed, include_slots=slots))


@app.command()
def generate(
    n: Annotated[int | None, typer.Option("--n", "-n", help="How many scenarios (default: the plan's)")] = None,
    model: Annotated[str | None, typer.Option(help="Generator model (default: scenarios.generator_model)")] = None,
) -> None:
    """Write each planned scenario's opening message with the generator model (resumable; plans first)."""
    import asyncio

    from base_model_selector.scenarios.generate import generate_scenarios

    study = open_study()
    with rich_progress("Writing scenarios") as progress:
        result = asyncio.run(generate_scenarios(study, n=n, model=model, progress=progress))
    emit(result)
    if result.failed:
        raise typer.Exit(1)


@app.command("add-scenarios")
def add_scenarios_command(
    file: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or YAML file of {text, topic, ...}, anywhere")],
) -> None:
    """Add scenarios you wrote or collected; they are tagged, checked against the taxonomy and de-duplicated."""
    from base_model_selector.scenarios.input import add_scenarios

    study = open_study()
    emit(add_scenarios(study, path=named_file(study, file)))
