"""The shipped example studies, as tests use them: only what a person wrote, never what a run left behind.

The README's main command evaluates `examples/customer-support` in place, so a clone may hold its runs, scenarios
and document next to the study files. Tests copy just the person-written files, so they start from the example as
shipped whatever was run before (the same files `.gitignore` keeps out of the repository).
"""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RUN_OUTPUTS = shutil.ignore_patterns(
    "runs", "scenarios", "research", "docs", "comparison.*", "selection.json", "notes.md", ".study.lock"
)


def copy_example(name: str, dest: Path) -> Path:
    """Copy example study `name` to `dest` without any run outputs; returns `dest`."""
    shutil.copytree(EXAMPLES / name, dest, ignore=RUN_OUTPUTS)
    return dest
