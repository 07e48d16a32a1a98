"""What every tool module shares: how a tool is registered, the error boundary, the argument types, progress.

Three promises every tool keeps, made once here rather than in each tool:

- **Errors speak the agent's language.** `agent_errors` is the one place where project errors become
  `ToolError`s, rendered for MCP (`err.render("mcp")`: the fix names the tool and arguments to call, where the CLI
  names a command). Add a new error kind there, never a try/except in a tool.
- **Arguments are checked, all of them.** An argument the tool does not take is refused with its name and the
  list of those it does take (the SDK would drop it silently, and a misspelt `modle=` would quietly test the
  wrong model).
- **Results fit the client** (results.py): a short Markdown summary as the text, the data once as structured
  content, under `BUDGET` characters unless the caller asks for detail.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp_types import ToolAnnotations
from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from base_model_selector.server.results import Fit, published_schema, shaped
from base_model_selector.study import untrusted
from base_model_selector.study.config import JUDGE_MODE_PATTERN
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study
from base_model_selector.study.errors import project_error

F = TypeVar("F", bound=Callable[..., Any])

INSTRUCTIONS = (
    "Decide whether an open-weight base model is good enough for a domain before fine-tuning. Work through the "
    "eight steps in order; call study_status first and follow its next_action. Every tool takes `study`, the "
    "study directory. Results are small by default: ask for more with detail=true, id=..., or offset/limit."
)

StudyArg = Annotated[
    str,
    Field(description=f"Study directory (holds study.yaml); default ./{DEFAULT_STUDY_DIR}"),
]
ModelArg = Annotated[
    str | None,
    Field(description="Model tag under test, e.g. 'qwen3:8b'; default: the primary chosen with select_model"),
]
JudgeModeArg = Annotated[
    str | None,
    Field(
        pattern=JUDGE_MODE_PATTERN,
        description="The judge the decision rests on: llm (the judge model), agent (= agent:default: your recorded "
        "verdicts), agent:<name> or human:<name>; default judge.mode in study.yaml",
    ),
]
JudgeArg = Annotated[
    str,
    Field(
        description="Who judges: agent:<name> (you; default agent:default) or human:<name> (a person, whose verdict "
        "overrides the primary judge on that item)"
    ),
]


@dataclass(frozen=True)
class Hints:
    """The four MCP tool annotations, stated for every tool (clients use them to decide what needs approval)."""

    read_only: bool
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False

    def annotations(self, title: str) -> ToolAnnotations:
        return ToolAnnotations(
            title=title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


READS = Hints(read_only=True)
"""Only reads the study."""
WRITES = Hints(read_only=False)
"""Adds to or re-derives the study's files; repeating the call changes nothing more."""
REPLACES = Hints(read_only=False, destructive=True)
"""Replaces something a person or an earlier call chose (a study.yaml key, the taxonomy, the selection)."""


def agent_errors(fn: F) -> F:
    """Turn the project's errors into ToolErrors whose message the agent can read and act on.

    Every string in a result is cleaned of control and bidi characters (`untrusted.clean_data`): results quote
    scenarios, model replies, judge reasoning and web text, which must reach the agent as inert data.
    Operating-system and input errors an agent can cause (an unwritable study, a NUL byte in a path) are mapped
    to the same one-line messages as in the CLI (`errors.project_error`). A synchronous tool runs in a worker
    thread, so its file work and any wait for the study lock never block the event loop that a concurrent
    baseline or judging run is timing requests on.
    """

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn(*args, **kwargs)
            else:
                result = await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
            return untrusted.clean_data(result)
        except Exception as err:
            mapped = project_error(err)
            if mapped is None:
                raise
            raise ToolError(mapped.render("mcp")) from err

    return wrapper  # type: ignore[return-value]


class _KnownArguments(FuncMetadata):
    """The SDK's argument handling, refusing arguments the tool does not take instead of dropping them."""

    tool: str = ""
    known: tuple[str, ...] = ()

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(arguments_to_validate) - set(self.known))
        if unknown:
            names = ", ".join(repr(u) for u in unknown)
            problem = PydanticCustomError(
                "unknown_argument",
                "unknown argument {names} for {tool}; it takes: {known}",
                {"names": names, "tool": self.tool, "known": ", ".join(self.known) or "no arguments"},
            )
            detail = InitErrorDetails(type=problem, loc=(), input=None)
            raise ValidationError.from_exception_data(f"{self.tool} arguments", [detail], hide_input=True)
        return super().validate_arguments(arguments_to_validate)


def refuse_unknown_arguments(tool: Tool) -> Tool:
    """Make `tool` refuse arguments it does not take, naming them, instead of the SDK's silent drop."""
    meta = tool.fn_metadata
    known = tuple(sorted(field.alias or name for name, field in meta.arg_model.model_fields.items()))
    tool.fn_metadata = _KnownArguments(
        arg_model=meta.arg_model,
        output_schema=published_schema(meta.output_schema) if meta.output_schema else None,
        output_model=None,  # the result is built from a validated core model; clients validate the schema
        wrap_output=meta.wrap_output,
        tool=tool.name,
        known=known,
    )
    tool.parameters = {**tool.parameters, "additionalProperties": False}
    return tool


class Toolbox:
    """Collects the server's tools, each behind the error boundary, the argument check and the size budget."""

    def __init__(self) -> None:
        self.tools: list[Tool] = []

    def tool(self, name: str, *, title: str, hints: Hints, fit: Fit | None = None) -> Callable[[F], F]:
        """Register the decorated function as the MCP tool `name` (its docstring is the description)."""

        def register(fn: F) -> F:
            shaped_fn = shaped(agent_errors(fn), name=name, fit=fit or Fit())
            tool = Tool.from_function(
                shaped_fn,
                name=name,
                title=title,
                description=inspect.getdoc(fn),
                annotations=hints.annotations(title),
            )
            self.tools.append(refuse_unknown_arguments(tool))
            return fn

        return register


ToolDecorator = Callable[..., Callable[[F], F]]
"""`tool(name, title=..., hints=..., fit=...)`: registers the decorated function as an MCP tool (Toolbox.tool)."""


def progress_reporter(ctx: Context | None) -> Callable[[float, float | None, str], Awaitable[None]]:
    """A core-library progress callback that forwards to MCP progress notifications."""

    async def report(done: float, total: float | None, message: str) -> None:
        if ctx is not None:
            await ctx.report_progress(done, total, message)

    return report


def open_study(study: str | None) -> Study:
    return Study.open(study or os.environ.get("BMS_STUDY") or DEFAULT_STUDY_DIR)


def readable_file(study: Study, path: str) -> Path:
    """A file an agent names: inside the study or the client's working directory, nowhere else (untrusted)."""
    return study.readable(path, also=Path.cwd())


__all__ = [
    "INSTRUCTIONS",
    "READS",
    "REPLACES",
    "WRITES",
    "Fit",
    "Hints",
    "JudgeArg",
    "JudgeModeArg",
    "ModelArg",
    "StudyArg",
    "ToolDecorator",
    "Toolbox",
    "agent_errors",
    "open_study",
    "progress_reporter",
    "readable_file",
]
