"""The review page from the shell: serve it, print its URL first, open the browser, stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from base_model_selector.cli.app import Globals, app, open_study


@app.command()
def review(
    model: Annotated[str | None, typer.Option(help="Model to review; default: the selected primary")] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one")] = 0,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in the browser")] = True,
    reviewer: Annotated[
        str | None, typer.Option(help="Your name; your verdicts are stored as human:NAME (default: login name)")
    ] = None,
) -> None:
    """Serve the review page: read every response, overrule verdicts, write the notes; Ctrl-C stops it."""
    from base_model_selector.review.server import ReviewServer

    server = ReviewServer(open_study(), model, reviewer=reviewer, port=port)
    info = server.start()
    try:
        if Globals.json:
            typer.echo(json.dumps(info.model_dump(mode="json"), ensure_ascii=False))
        else:
            typer.echo(info.summary())
            typer.echo("Serving until Ctrl-C.", err=True)
        if open_browser and not _open_in_browser(info.url):
            typer.echo("No graphical browser here: open the URL above in a browser on this machine.", err=True)
        server.wait()
    except KeyboardInterrupt:
        typer.echo("Review page stopped.", err=True)
    finally:
        server.stop()


def _open_in_browser(url: str) -> bool:
    """Open `url` in a graphical browser; never a console one (lynx, w3m) that would take over this terminal."""
    import webbrowser

    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    )
    return graphical and webbrowser.open(url)
