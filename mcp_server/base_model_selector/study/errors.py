"""The errors users see, each carrying the fix — said in the caller's language.

Every failure a person or an agent can act on is a `BMSError` whose message names the file, key, model or URL
involved, and whose `fixes` say what to do next. A fix is structured (`Fix`: the MCP tool with its arguments, and
the CLI command), because the two shells speak different languages: an agent over MCP must be told to call
`init_study(study=…, domain=…)`, a person in a terminal to run `base-model-selector init … --domain …`. Each shell
renders the error once, at its boundary: the CLI with `render("cli")` (one line, exit code 2, in
`cli/__init__.py: main`), the MCP server with `render("mcp")` (a `ToolError`, in `server/common.py:
agent_errors`). `str(err)` is the CLI rendering, which is what logs and the engine's failure lists show.

Where a failure comes from the operating system or a library rather than our own checks (a directory that is
not writable, a file where a directory should be, a NUL byte in a path, an invalid value), `from_os_error` and
`project_error` turn it into the same kind of one-line message, at its source where we can and at the two
shell boundaries as the safety net.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Caller = Literal["cli", "mcp"]


@dataclass(frozen=True)
class Fix:
    """One way out of an error: the MCP tool and arguments to call, and what a person does on the CLI.

    `cli` is either a command (`base-model-selector …`, rendered as "run `…`") or a plain instruction such as
    "set judge.model in study.yaml" (rendered as is). An empty `tool` means "the same tool, with these arguments".
    """

    tool: str
    cli: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def render(self, caller: Caller) -> str:
        if caller == "mcp":
            shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in self.args.items())
            return f"call {self.tool}({shown})" if self.tool else f"pass {shown}"
        return f"run `{self.cli}`" if self.cli.startswith("base-model-selector") else self.cli


def cli_command(study: object, command: str) -> str:
    """`base-model-selector --study STUDY COMMAND`: the CLI spelling of a step for a study directory."""
    return f"base-model-selector --study {study} {command}"


class BMSError(Exception):
    """Base of every anticipated failure: the message says what is wrong, the fixes what to do next."""

    exit_code = 2

    def __init__(self, message: str, *fixes: Fix) -> None:
        super().__init__(message)
        self.message = message
        self.fixes = fixes

    def render(self, caller: Caller = "cli") -> str:
        """The whole actionable message for one caller: the problem, then each fix in that caller's words."""
        if not self.fixes:
            return self.message
        return f"{self.message} — " + ", or ".join(fix.render(caller) for fix in self.fixes)

    def __str__(self) -> str:
        return self.render("cli")


class StudyError(BMSError):
    """The study directory or one of its files is missing, malformed or unwritable."""


class ConfigError(StudyError):
    """A person-written file (study.yaml, taxonomy.yaml, rubric.yaml, ...) fails validation."""


class PathRefused(BMSError):
    """A path argument resolves outside the study directory or the declared docs path."""


class StudyLocked(StudyError):
    """Another process (a CLI run or an MCP server) is writing to the same study."""


class BackendError(BMSError):
    """The model server failed in a way retrying will not fix."""


class BackendUnreachable(BackendError):
    """No model server answers at the configured address."""


class ModelNotFound(BackendError):
    """The model is not available on the server (not pulled, or an unknown tag)."""


class RequestRejected(BackendError):
    """The server refused the request itself (HTTP 4xx, or a 5xx whose body says the request failed validation).

    Sending the same request again cannot help, so it is never retried; the message carries the server's own words
    and the fix (a setting to change, a model to serve)."""


class ContextOverflow(RequestRejected):
    """The prompt, or the prompt and the reply budget, do not fit the server's context window; the message names
    the setting to raise (it depends on the server). `context` and `prompt_tokens` are the server's figures, when
    it gave them."""

    def __init__(self, message: str, *, context: int | None = None, prompt_tokens: int | None = None) -> None:
        super().__init__(message)
        self.context = context
        self.prompt_tokens = prompt_tokens


class TransientBackendError(BackendError):
    """A failure that may pass if the same request is sent again (HTTP 5xx/503/429, a dropped connection, a
    timeout): the engine retries it with backoff, a bounded number of times."""


class SearchUnavailable(BMSError):
    """Web search is blocked or offline; callers degrade to the catalog."""


class StepNotReady(BMSError):
    """A step was asked for before the step it depends on has produced its files."""


class StudyNotWritable(StudyError):
    """A file the study needs cannot be written or read: permissions, a read-only disk, or a file standing where
    a directory should be."""


_OS_FIXES = {
    errno.EACCES: "not writable or not readable by you (permission denied); fix its permissions (chmod/chown) "
    "or work on a copy",
    errno.EPERM: "not writable (operation not permitted); fix its permissions (chmod/chown) or work on a copy",
    errno.EROFS: "not writable (read-only file system); copy the study to a writable place and use that",
    errno.ENOSPC: "the disk is full; free some space and re-run (finished results are kept)",
    errno.EDQUOT: "the disk quota is exceeded; free some space and re-run (finished results are kept)",
    errno.EISDIR: "is a directory where a file is needed; move or rename it, then retry",
    errno.ENAMETOOLONG: "the path is too long; use a shorter study path or model name",
    errno.ENOENT: "not found; check the path",
}


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is a file, not a directory (why a mkdir or open failed)."""
    for parent in [path, *path.parents]:
        if parent.exists() or parent.is_symlink():
            return parent if not parent.is_dir() else None
    return None


def from_os_error(err: OSError, path: str | Path | None = None) -> StudyNotWritable:
    """A project error for a failed read or write: the path, what went wrong and how to fix it, in one line."""
    name = Path(str(path if path is not None else err.filename or "the study"))
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _blocking_file(name)
        where = blocker or name
        return StudyNotWritable(
            f"{where}: is a file where the study needs a directory (for {name}); move or rename that file, then retry"
        )
    reason = _OS_FIXES.get(err.errno or 0, f"{err.strerror or err}; check the path and its permissions")
    return StudyNotWritable(f"{name}: {reason}")


def project_error(err: BaseException) -> BMSError | None:
    """The project error for an exception a person or agent caused without the code anticipating it at its
    source, or None for a bug (which should surface as one). Used by the CLI and MCP boundaries only."""
    from pydantic import ValidationError

    if isinstance(err, BMSError):
        return err
    if isinstance(err, OSError):
        return from_os_error(err)
    if isinstance(err, ValueError) and "null" in str(err) and ("byte" in str(err) or "character" in str(err)):
        return PathRefused("a path contains a NUL byte (\\x00); pass a plain path")
    if isinstance(err, UnicodeError):
        return StudyError(f"text that is not valid UTF-8 ({err}); save the file as UTF-8 and retry")
    if isinstance(err, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in err.errors()[:5])
        return ConfigError(f"invalid {err.title}: {problems}; fix the value and retry")
    if isinstance(err, RecursionError):
        return ConfigError("the input is nested too deeply to read; simplify it and retry")
    return None
