"""Steps 3 and 5 on the command line: pull, check, run (the baseline)."""

from __future__ import annotations

from typing import Annotated

import typer

from base_model_selector.cli.app import app, emit, open_study, rich_progress
from base_model_selector.study.errors import ConfigError


@app.command()
def pull(
    model: Annotated[str | None, typer.Argument(help="Model tag; default: the selected primary")] = None,
    model_option: Annotated[str | None, typer.Option("--model", help="Same as the MODEL argument")] = None,
) -> None:
    """Pull the model onto every configured Ollama host, with a progress bar (bytes and %)."""
    import asyncio

    from base_model_selector.serving.pull import pull_model

    study = open_study()
    with rich_progress("Pulling", download=True) as progress:
        result = asyncio.run(pull_model(study, _one_model(model, model_option), progress=progress))
    emit(result)


@app.command()
def check(
    model: Annotated[str | None, typer.Argument(help="Model tag; default: the selected primary")] = None,
    model_option: Annotated[str | None, typer.Option("--model", help="Same as the MODEL argument")] = None,
) -> None:
    """Record the model's real facts and a smoke test; show where the catalog disagrees."""
    import asyncio

    from base_model_selector.serving.check import check_model

    emit(asyncio.run(check_model(open_study(), _one_model(model, model_option))))


def _one_model(argument: str | None, option: str | None) -> str | None:
    """`pull TAG` mirrors `ollama pull TAG`; `--model TAG` matches every other command. Both must agree."""
    if argument and option and argument != option:
        raise ConfigError(f"two different models given ({argument!r} and --model {option!r}); give one")
    return argument or option


@app.command()
def run(
    model: Annotated[str | None, typer.Option(help="Model tag; default: the selected primary")] = None,
    pull: Annotated[bool, typer.Option("--pull", help="Pull the model first if the server lacks it")] = False,
) -> None:
    """Run the baseline: every scenario answered once (resumes; Ctrl-C keeps what finished)."""
    import asyncio

    from base_model_selector.baseline.run import run_baseline

    study = open_study()
    with rich_progress("Baseline") as progress:
        result = asyncio.run(run_baseline(study, model, pull=pull, progress=progress))
    emit(result)
    if result.failed:
        raise typer.Exit(1)
