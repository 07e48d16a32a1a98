"""Commands that create a study and show where it stands, and the end-to-end `evaluate` and `serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import Globals, app, emit, open_study, rich_progress
from base_model_selector.study.directory import init_study


@app.command()
def init(
    directory: Annotated[str, typer.Argument(help="Study directory to create")] = "",
    domain: Annotated[str, typer.Option(help="What the model must be good at")] = ...,  # type: ignore[assignment]
    use_case: Annotated[str, typer.Option(help="What the product does and for whom")] = "",
    size_min: Annotated[float, typer.Option(help="Smallest size, billions")] = 7,
    size_max: Annotated[float, typer.Option(help="Largest size, billions")] = 10,
    commercial: Annotated[bool, typer.Option("--commercial/--non-commercial")] = True,
    system_prompt: Annotated[str, typer.Option(help="The product's system prompt")] = "You are a helpful assistant.",
    max_turns: Annotated[int, typer.Option(help="Longest conversation, in turns")] = 1,
    force: Annotated[bool, typer.Option(help="Replace an existing study.yaml")] = False,
) -> None:
    """Create a study directory with a commented study.yaml."""
    path = init_study(
        directory or Globals.study,
        domain=domain,
        use_case=use_case,
        size_min=size_min,
        size_max=size_max,
        commercial_use=commercial,
        system_prompt=system_prompt,
        max_turns=max_turns,
        force=force,
    )
    emit(
        {"study_yaml": str(path)},
        f"Wrote {path}. Edit it, then run: base-model-selector --study {path.parent} status",
    )


@app.command()
def status(model: Annotated[str | None, typer.Option(help="Model tag under test")] = None) -> None:
    """Show the eight steps (done / pending / stale) and what to run next."""
    from base_model_selector.status import study_status

    emit(study_status(open_study(), model))


@app.command()
def evaluate(
    study_dir: Annotated[str | None, typer.Argument(help="Prepared study directory (default: --study)")] = None,
    model: Annotated[str | None, typer.Option(help="Model tag to evaluate; default: the selected primary")] = None,
    html: Annotated[bool, typer.Option(help="Also write an HTML copy of the document")] = False,
) -> None:
    """Steps 3–8 in one go: pull, check, scenarios, baseline, assess, decide, document (resumable)."""
    import asyncio

    from base_model_selector.evaluate import evaluate as evaluate_core

    study = open_study(study_dir)
    with rich_progress("Evaluating") as progress:
        result = asyncio.run(evaluate_core(study, model, html=html, progress=progress))
    emit(result)
    if not result.complete:
        raise typer.Exit(1)  # stopped early (e.g. waiting for agent verdicts): not a finished evaluation


@app.command()
def serve() -> None:
    """Serve the MCP tools over stdio (same as base-model-selector-mcp)."""
    from base_model_selector.server import main as serve_main

    serve_main()
