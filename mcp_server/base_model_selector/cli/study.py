"""Commands that create a study, set its keys and show where it stands, the samples, `evaluate` and `serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import Globals, app, assignments, emit, open_study, rich_progress
from base_model_selector.study.config import BackendKind
from base_model_selector.study.directory import configure_study, init_study


@app.command()
def init(
    directory: Annotated[str, typer.Argument(help="Study directory to create")] = "",
    domain: Annotated[str | None, typer.Option(help="What the model must be good at")] = None,
    example: Annotated[
        str | None,
        typer.Option(help="Start from an example study: customer-support, empathetic-coaching or sql-analyst"),
    ] = None,
    use_case: Annotated[str | None, typer.Option(help="What the product does and for whom")] = None,
    size_min: Annotated[float | None, typer.Option(help="Smallest size, billions (7)")] = None,
    size_max: Annotated[float | None, typer.Option(help="Largest size, billions (10)")] = None,
    commercial: Annotated[bool | None, typer.Option("--commercial/--non-commercial")] = None,
    system_prompt: Annotated[str | None, typer.Option(help="The product's system prompt")] = None,
    max_turns: Annotated[int | None, typer.Option(help="Longest conversation, in turns (1)")] = None,
    tokens_per_message: Annotated[int | None, typer.Option(help="Typical tokens per message (200)")] = None,
    judge_mode: Annotated[
        str | None, typer.Option(help="Who judges: llm (a judge model), agent, agent:<name> or human:<name> (llm)")
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="Judge model tag (default: the candidate, warned)")] = None,
    backend_kind: Annotated[
        BackendKind | None, typer.Option(help="Model server kind: ollama, openai, or llamacpp (a GGUF run in-process)")
    ] = None,
    host: Annotated[list[str] | None, typer.Option(help="Model server URL (repeat for several hosts)")] = None,
    parallel: Annotated[int | None, typer.Option(help="Requests in flight per host (OLLAMA_NUM_PARALLEL)")] = None,
    scenarios: Annotated[int | None, typer.Option("--scenarios", help="How many scenarios (50)")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any other study.yaml key: KEY=VALUE, e.g. generation.num_ctx=8192"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace an existing study.yaml (and, with --example, its files)")
    ] = False,
) -> None:
    """Create a study directory with a commented study.yaml (from --domain, or from an --example study)."""
    path = init_study(
        directory or Globals.study,
        domain=domain,
        example=example,
        use_case=use_case,
        size_min=size_min,
        size_max=size_max,
        commercial_use=commercial,
        system_prompt=system_prompt,
        max_turns=max_turns,
        tokens_per_message=tokens_per_message,
        judge_mode=judge_mode,
        judge_model=judge_model,
        backend_kind=backend_kind,
        hosts=host or None,
        parallel=parallel,
        n_scenarios=scenarios,
        settings=assignments(set_ or [], option="--set"),
        force=force,
    )
    written = "study.yaml" if not example else "study.yaml, system_prompt.md, taxonomy.yaml and rubric.yaml"
    emit(
        {"study_yaml": str(path)},
        f"Wrote {written} in {path.parent}. Edit {'them' if example else 'it'}, then run: "
        f"base-model-selector --study {path.parent} status",
    )


@app.command("set")
def set_command(
    settings: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs, e.g. judge.model=llama3.1:8b scenarios.n=30")],
) -> None:
    """Set study.yaml keys by their dotted names (validated like the file; its comments are kept)."""
    emit(configure_study(Globals.study, assignments(settings, option="KEY=VALUE")))


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
