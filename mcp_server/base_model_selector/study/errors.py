"""The errors users see, each carrying the fix.

Every failure a person or an agent can act on is a `BMSError` whose message names the file, key, model or URL
involved and the next thing to do. The CLI turns them into one line and exit code 2; the MCP server turns them
into a `ToolError` so the calling agent reads the whole message instead of "Error executing tool".
"""

from __future__ import annotations


class BMSError(Exception):
    """Base of every anticipated failure: `str(err)` is the complete, actionable message."""

    exit_code = 2


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
