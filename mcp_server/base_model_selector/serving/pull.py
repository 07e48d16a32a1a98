"""Step 3a: get the chosen model onto the model server(s).

The baseline cannot run on a model the server does not have, and a pull of several gigabytes is the slowest,
most interruptible thing a user does here. This module resolves which model is meant (an explicit tag, else the
GGUF study.yaml names for llama.cpp, else the primary chosen in step 2) and pulls it on every configured host
with byte-level progress. A model already present returns at once; an unknown tag says where to find valid ones;
an interrupted pull says to run it again (Ollama and the Hugging Face cache resume from the data they have).

Contract: `model_under_test(study, model) -> str` (raises `StepNotReady` when nothing is chosen) and
`await pull_model(study, model=None, *, backend=None, progress=None) -> PullResult`.
"""

from __future__ import annotations

from base_model_selector.serving.backends import Backend, ProgressFn, PullResult, using
from base_model_selector.study.directory import Study, active_model
from base_model_selector.study.errors import Fix, StepNotReady, cli_command


def model_under_test(study: Study, model: str | None = None) -> str:
    """The tag to work on: the one given, else `backend.model` (llamacpp), else the primary chosen with select_model."""
    tag = active_model(study, model)
    if not tag:
        raise StepNotReady(
            f"{study.paths.selection}: no model chosen yet",
            Fix(
                "select_model",
                cli_command(study.root, "select PRIMARY BACKUP"),
                {"study": str(study.root), "primary": {"candidate": "<id from the comparison table>"}},
            ),
            Fix("", "pass the tag explicitly (--model qwen3:8b)", {"model": "qwen3:8b"}),
        )
    return tag


async def pull_model(
    study: Study,
    model: str | None = None,
    *,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
) -> PullResult:
    """Pull the model on every host that lacks it; returns at once when all have it."""
    tag = model_under_test(study, model)
    async with using(study.config.backend, backend) as server:
        return await server.pull(tag, progress)
