"""The shared parts of every command: the Typer app, global options, how a result is printed, the progress bar.

Commands parse options, call one core function and print its summary (or `--json`); they live in one module per
group of steps beside this one and register themselves on `app` when imported.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from base_model_selector import __version__
from base_model_selector.study import untrusted
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study

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
    """Print a result: its JSON with --json, else its human summary. Either way without control or bidi
    characters: a result may quote model output or web text, which must not drive the terminal."""
    if Globals.json:
        data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        typer.echo(json.dumps(untrusted.clean_data(data), indent=2, ensure_ascii=False))
        return
    if text is None:
        summary = getattr(result, "summary", None)
        text = summary() if callable(summary) else str(result)
    typer.echo(untrusted.clean(text, multiline=True))


def user_path(text: str) -> Path:
    return Path(text).expanduser()


def named_file(study: Study, text: str) -> Path:
    """A file a person names on the command line, read from wherever it is: as given (relative to the current
    directory), else relative to the study directory. Only what the tool writes is confined to the study."""
    given = user_path(text)
    if given.exists() or given.is_absolute():
        return given
    in_study = study.root / given
    return in_study if in_study.exists() else given


def assignments(items: list[str], *, option: str) -> dict[str, Any]:
    """`KEY=VALUE` pairs as a mapping; each VALUE is read as YAML (`8` → 8, `true`, `[a, b]`, `null`)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE, e.g. judge.model=llama3.1:8b", param_hint=option)
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


@contextmanager
def rich_progress(
    label: str, *, download: bool = False
) -> Iterator[Callable[[float, float | None, str], Awaitable[None]]]:
    """A core-library progress callback drawing a rich bar on stderr (silent with --json).

    `download` shows bytes, speed and time left (a model pull) instead of items done and the latest message.
    """
    from rich import progress as rp
    from rich.console import Console

    columns: tuple[rp.ProgressColumn, ...]
    if download:
        columns = (rp.TaskProgressColumn(), rp.DownloadColumn(), rp.TransferSpeedColumn(), rp.TimeRemainingColumn())
    else:
        columns = (rp.MofNCompleteColumn(), rp.TimeElapsedColumn(), rp.TextColumn("{task.fields[note]}"))
    bar = rp.Progress(
        rp.TextColumn("{task.description}"),
        rp.BarColumn(),
        *columns,
        console=Console(stderr=True),
        disable=Globals.json,
        transient=True,
    )
    task = bar.add_task(label, total=None, note="")

    async def report(done: float, total: float | None, message: str) -> None:
        if download:
            bar.update(task, completed=done, total=total, description=message[-60:])
        else:
            bar.update(task, completed=done, total=total, note=message)

    with bar:
        yield report
