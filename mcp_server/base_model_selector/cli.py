"""The command line: one command per step over the same core the MCP server uses.

Commands parse options, call one core function and print its summary (or `--json`). All project errors are
turned into one line and exit code 2 at a single boundary, `main()`; `BMS_DEBUG=1` re-raises with the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import BaseModel

from . import __version__
from .errors import BMSError, ConfigError
from .study import DEFAULT_STUDY_DIR, Study, init_study

if TYPE_CHECKING:
    pass

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
    from .status import study_status

    emit(study_status(open_study(), model))


# ------------------------------------------------------------ steps 1–2: research, compare, select
@app.command()
def search(
    queries: Annotated[
        list[str] | None, typer.Argument(help="Queries; default: templates filled from the study")
    ] = None,
    fetch_pages: Annotated[int | None, typer.Option(min=0, max=10, help="Fetch the top N result pages")] = None,
) -> None:
    """Search the web for candidates (cached; continues from the catalog when search is blocked)."""
    import asyncio

    from .research import search_web

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

    from .catalog import load_user_entries
    from .research import research_candidates

    entries = load_user_entries(_path(add)) if add else None
    study = open_study()
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
    from .compare import OverrideRequest, build_comparison_table

    requests = []
    for text in override or []:
        candidate, _, rest = text.partition("=")
        stars, _, why = rest.partition(":")
        if not (candidate.strip() and stars.strip().isdigit() and why.strip()):
            raise typer.BadParameter(f"{text!r}: expected CANDIDATE=STARS:JUSTIFICATION", param_hint="--override")
        requests.append(OverrideRequest(candidate=candidate, stars=int(stars), justification=why, by=by))
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
    from .selection import Choice, select_model

    first = Choice(
        candidate=primary, rationale=rationale, strengths=strength or [], concerns=concern or [], ollama_tag=tag
    )
    second = Choice(candidate=backup, rationale=backup_rationale, ollama_tag=backup_tag) if backup else None
    emit(select_model(open_study(), first, second))


# ------------------------------------------------------------ steps 3 and 5: pull, check, run
@app.command()
def pull(
    model: Annotated[str | None, typer.Argument(help="Model tag; default: the selected primary")] = None,
    model_option: Annotated[str | None, typer.Option("--model", help="Same as the MODEL argument")] = None,
) -> None:
    """Pull the model onto every configured Ollama host, with a progress bar (bytes and %)."""
    import asyncio

    from .pull import pull_model

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

    from .check import check_model

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

    from .baseline import run_baseline

    study = open_study()
    with rich_progress("Baseline") as progress:
        result = asyncio.run(run_baseline(study, model, pull=pull, progress=progress))
    emit(result)
    if result.failed:
        raise typer.Exit(1)


# ------------------------------------------------------------ step 4: scenarios
@app.command()
def plan(
    n: Annotated[int | None, typer.Option("--n", "-n", help="How many scenarios (default: scenarios.n)")] = None,
    seed: Annotated[int | None, typer.Option(help="Plan seed (default: scenarios.seed)")] = None,
    slots: Annotated[bool, typer.Option("--slots", help="Include every slot in the --json output")] = False,
) -> None:
    """Plan the scenarios across taxonomy.yaml (coverage, warnings) and write scenarios/plan.json."""
    from .scenarios import plan_report

    emit(plan_report(open_study(), n, seed, include_slots=slots))


@app.command()
def generate(
    n: Annotated[int | None, typer.Option("--n", "-n", help="How many scenarios (default: the plan's)")] = None,
    model: Annotated[str | None, typer.Option(help="Generator model (default: scenarios.generator_model)")] = None,
) -> None:
    """Write each planned scenario's opening message with the generator model (resumable; plans first)."""
    import asyncio

    from .scenarios import generate_scenarios

    study = open_study()
    with rich_progress("Writing scenarios") as progress:
        result = asyncio.run(generate_scenarios(study, n=n, model=model, progress=progress))
    emit(result)
    if result.failed:
        raise typer.Exit(1)


@app.command("add-scenarios")
def add_scenarios_command(
    file: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or YAML file of {text, topic, ...}, inside the study")],
) -> None:
    """Add scenarios you wrote or collected; they are tagged, checked against the taxonomy and de-duplicated."""
    from .scenario_input import add_scenarios

    local = _path(file)
    emit(add_scenarios(open_study(), path=str(local.resolve()) if local.exists() else file))


# ------------------------------------------------------------ step 6: assess
@app.command()
def assess(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    agent: Annotated[bool, typer.Option("--agent", help="Score the verdicts recorded with `record`")] = False,
    llm: Annotated[bool, typer.Option("--llm", help="Judge with the judge model (overrides study.yaml)")] = False,
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

    from .assessment import assess_responses

    if agent and llm:
        raise typer.BadParameter("choose --agent or --llm, not both", param_hint="--agent")
    mode: Literal["llm", "agent"] | None = "agent" if agent else "llm" if llm else None
    study = open_study()
    with rich_progress("Judging") as progress:
        result = asyncio.run(
            assess_responses(
                study,
                model,
                mode=mode,
                batched=batched,
                rejudge_errors=rejudge_errors,
                agreement=agreement,
                agreement_sample=agreement_sample or None,
                progress=progress,
            )
        )
    emit(result)


@app.command("next-batch")
def next_batch(
    model: Annotated[str | None, typer.Option(help="Model tag under test")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="How many pending items")] = 10,
) -> None:
    """Print pending (scenario, response, criterion) items for an agent or a person to judge (JSON)."""
    from .agent_judge import next_assessment_batch

    emit(next_assessment_batch(open_study(), model, k))


@app.command()
def record(
    file: Annotated[str, typer.Argument(help="JSON list or JSONL of {item_id, reasoning, answer} verdicts")],
    model: Annotated[str | None, typer.Option(help="Model tag under test")] = None,
) -> None:
    """Record verdicts on items from `next-batch` (all or nothing) and re-score the responses."""
    from .agent_judge import load_verdicts_file, record_assessments

    emit(record_assessments(open_study(), load_verdicts_file(_path(file)), model))


# ------------------------------------------------------------ steps 7–8: decide, write-doc, evaluate
@app.command()
def decide(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
) -> None:
    """Pass rate with its Wilson 95% interval, the decision band, and the failure analysis (decision.json)."""
    from .decision import decide as decide_core

    emit(decide_core(open_study(), model))


@app.command("write-doc")
def write_doc(
    model: Annotated[str | None, typer.Option(help="Model tag under test; default: the selected primary")] = None,
    qualitative: Annotated[
        str | None, typer.Option(help="Qualitative notes (Markdown); saved under '## Qualitative notes' in notes.md")
    ] = None,
    pattern: Annotated[
        list[str] | None,
        typer.Option(help="A failure pattern as ID=TEXT, e.g. CQ1='asks twice'; repeatable; saved to notes.md"),
    ] = None,
    next_steps: Annotated[str | None, typer.Option(help="The team's next steps (Markdown); saved to notes.md")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Document path inside the study; default: docs_path")
    ] = None,
    html: Annotated[bool, typer.Option(help="Also write an HTML copy next to the Markdown")] = False,
) -> None:
    """Write the decision document from decision.json and notes.md; its structure is checked before writing."""
    from .report import write_decision_doc

    patterns = {}
    for item in pattern or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise typer.BadParameter(f"{item!r} is not ID=TEXT, e.g. CQ1='asks for the order number twice'")
        patterns[key.strip()] = text.strip()
    emit(
        write_decision_doc(
            open_study(),
            model,
            path=output,
            qualitative_notes=qualitative,
            failure_patterns=patterns or None,
            next_steps=next_steps,
            html=html,
        )
    )


@app.command()
def evaluate(
    study_dir: Annotated[str | None, typer.Argument(help="Prepared study directory (default: --study)")] = None,
    model: Annotated[str | None, typer.Option(help="Model tag to evaluate; default: the selected primary")] = None,
    html: Annotated[bool, typer.Option(help="Also write an HTML copy of the document")] = False,
) -> None:
    """Steps 3–8 in one go: pull, check, scenarios, baseline, assess, decide, document (resumable)."""
    import asyncio

    from .evaluate import evaluate as evaluate_core

    study = open_study(study_dir)
    with rich_progress("Evaluating") as progress:
        result = asyncio.run(evaluate_core(study, model, html=html, progress=progress))
    emit(result)
    if not result.complete:
        raise typer.Exit(1)  # stopped early (e.g. waiting for agent verdicts): not a finished evaluation


@app.command()
def serve() -> None:
    """Serve the MCP tools over stdio (same as base-model-selector-mcp)."""
    from .server import main as serve_main

    serve_main()


INTERRUPTED = "interrupted; finished results are saved — re-run the same command to resume"


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
        typer.echo(INTERRUPTED, err=True)
        sys.exit(130)
    except SystemExit as done:
        if done.code == 130:  # typer turns Ctrl-C into a silent Exit(130) before it reaches the branch above
            typer.echo(INTERRUPTED, err=True)
        raise


def _path(text: str) -> Path:
    return Path(text).expanduser()


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
