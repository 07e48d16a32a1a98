"""Steps 1–2 on the command line: search, research, table, select."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import app, emit, named_file, open_study


@app.command()
def search(
    queries: Annotated[
        list[str] | None, typer.Argument(help="Queries; default: templates filled from the study")
    ] = None,
    fetch_pages: Annotated[int | None, typer.Option(min=0, max=10, help="Fetch the top N result pages")] = None,
) -> None:
    """Search the web for candidates (cached; continues from the catalog when search is blocked)."""
    import asyncio

    from base_model_selector.research.candidates import search_web

    emit(asyncio.run(search_web(open_study(), queries or None, fetch_pages=fetch_pages)))


@app.command()
def research(
    add: Annotated[
        str | None, typer.Option(help="YAML/JSON file of candidates to add (catalog entry format, with sources)")
    ] = None,
    web: Annotated[bool, typer.Option("--search/--no-search", help="Run the templated web searches first")] = True,
    size_min: Annotated[float | None, typer.Option(help="Override study.yaml size_b.min (billions)")] = None,
    size_max: Annotated[float | None, typer.Option(help="Override study.yaml size_b.max (billions)")] = None,
) -> None:
    """List every viable candidate with domain fit, context fit, flags and web evidence."""
    import asyncio

    from base_model_selector.research.candidates import research_candidates
    from base_model_selector.research.catalog import load_user_entries

    study = open_study()
    entries = load_user_entries(named_file(study, add)) if add else None
    emit(asyncio.run(research_candidates(study, add=entries, search=web, size_min_b=size_min, size_max_b=size_max)))


@app.command()
def table(
    override: Annotated[
        list[str] | None,
        typer.Option(help="Override a fit rating: CANDIDATE=STARS:JUSTIFICATION, e.g. 'qwen3-8b=5:warm in pilots'"),
    ] = None,
    by: Annotated[str, typer.Option(help="Who overrides (recorded with the justification)")] = "user",
) -> None:
    """Build the comparison table (comparison.md / comparison.json) of every candidate."""
    from base_model_selector.research.compare import OverrideRequest, build_comparison_table

    requests = [OverrideRequest.parse(text, by) for text in override or []]
    emit(build_comparison_table(open_study(), requests))


@app.command()
def select(
    primary: Annotated[str, typer.Argument(help="Primary: candidate id, name or Ollama tag from the table")],
    backup: Annotated[str | None, typer.Argument(help="Backup: candidate id, name or Ollama tag")] = None,
    rationale: Annotated[str, typer.Option(help="Why the primary")] = "",
    strength: Annotated[list[str] | None, typer.Option(help="Expected strength of the primary (repeat)")] = None,
    concern: Annotated[list[str] | None, typer.Option(help="Expected concern about the primary (repeat)")] = None,
    tag: Annotated[str | None, typer.Option(help="Ollama tag for the primary, if not the table's")] = None,
    backup_rationale: Annotated[str, typer.Option(help="Why the backup")] = "",
    backup_tag: Annotated[str | None, typer.Option(help="Ollama tag for the backup")] = None,
) -> None:
    """Record the primary and backup models (both must be in the comparison table)."""
    from base_model_selector.research.selection import Choice, select_model

    first = Choice(
        candidate=primary, rationale=rationale, strengths=strength or [], concerns=concern or [], ollama_tag=tag
    )
    second = Choice(candidate=backup, rationale=backup_rationale, ollama_tag=backup_tag) if backup else None
    emit(select_model(open_study(), first, second))
