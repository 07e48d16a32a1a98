"""The command line: one command per step over the same core the MCP server uses.

Each group of commands has its module here (`study`, `research`, `models`, `scenarios`, `judging`, `decision`,
`review`);
`app.py` holds what they share. All project errors become one line and exit code 2 at a single boundary,
`main()`, as do the operating-system and input errors a person can cause (`errors.project_error`: an unwritable
study, a file where a directory should be, a NUL byte in a path); `BMS_DEBUG=1` re-raises with the traceback.
"""

from __future__ import annotations

import os
import sys

import typer

from base_model_selector.cli import (  # noqa: F401 - registers the commands
    decision,
    judging,
    models,
    research,
    review,
    scenarios,
    study,
)
from base_model_selector.cli.app import app
from base_model_selector.study.errors import project_error

__all__ = ["app", "main"]

INTERRUPTED = "interrupted; finished results are saved — re-run the same command to resume"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the single place where project errors become a message and an exit code."""
    try:
        app(args=argv, standalone_mode=True)
    except Exception as err:
        mapped = project_error(err)  # a BMSError, or an OS/input error a person caused, as one line
        if mapped is None or os.environ.get("BMS_DEBUG"):
            raise
        typer.echo(f"error: {mapped.render('cli')}", err=True)
        sys.exit(mapped.exit_code)
    except KeyboardInterrupt:
        typer.echo(INTERRUPTED, err=True)
        sys.exit(130)
    except SystemExit as done:
        if done.code == 130:  # typer turns Ctrl-C into a silent Exit(130) before it reaches the branch above
            typer.echo(INTERRUPTED, err=True)
        raise
