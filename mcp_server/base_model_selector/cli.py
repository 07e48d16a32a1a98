"""The command line: one command per step over the same core the MCP server uses.

Commands parse options, call one core function and print its summary (or `--json`). All project errors are
turned into one line and exit code 2 at a single boundary, `main()`; `BMS_DEBUG=1` re-raises with the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from . import __version__
from .errors import BMSError
from .study import DEFAULT_STUDY_DIR, Study, init_study

app = typer.Typer(
    name="base-model-selector",
    help="Is a base model already good enough for your domain? Research, baseline, judge, decide.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Globals:
    study: str = DEFAULT_STUDY_DIR
    json: bool = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"base-model-selector {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    study: Annotated[
        str, typer.Option("--study", "-s", help="Study directory", envvar="BMS_STUDY")
    ] = DEFAULT_STUDY_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    Globals.study = study
    Globals.json = as_json


def open_study(directory: str | None = None) -> Study:
    return Study.open(directory or Globals.study)


def emit(result: Any, text: str | None = None) -> None:
    """Print a result: its JSON with --json, else its human summary."""
    if Globals.json:
        data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if text is None:
        summary = getattr(result, "summary", None)
        text = summary() if callable(summary) else str(result)
    typer.echo(text)


@app.command()
def init(
    directory: Annotated[str, typer.Argument(help="Study directory to create")] = "",
    domain: Annotated[str, typer.Option(help="What the model must be good at")] = ...,  # type: ignore[assignment]
    use_case: Annotated[str, typer.Option(help="What the product does and for whom")] = "",
    size_min: Annotated[float, typer.Option(help="Smallest size, billions")] = 7,
    size_max: Annotated[float, typer.Option(help="Largest size, billions")] = 10,
    commercial: Annotated[bool, typer.Option("--commercial/--non-commercial")] = True,
    system_prompt: Annotated[
        str, typer.Option(help="The product's system prompt")
    ] = "You are a helpful assistant.",
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
    from .status import study_status

    emit(study_status(open_study(), model))


@app.command()
def serve() -> None:
    """Serve the MCP tools over stdio (same as base-model-selector-mcp)."""
    from .server import main as serve_main

    serve_main()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the single place where project errors become a message and an exit code."""
    try:
        app(args=argv, standalone_mode=True)
    except BMSError as err:
        if os.environ.get("BMS_DEBUG"):
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted; finished results are saved — re-run the same command to resume", err=True)
        sys.exit(130)


def _path(text: str) -> Path:
    return Path(text).expanduser()
