"""The example studies shipped with the package, and how a new study starts from one.

Three complete studies (study.yaml, system prompt, taxonomy, rubric) show what a good study looks like, and a
small fourth (`quickstart`) runs anywhere with the embedded backend. They
live in the clone's `examples/` and, for anyone who installed the wheel with pip or `uv tool`, inside the
package (`base_model_selector/examples`, force-included at build time), so `init --example NAME` works for
both. Only the files a person writes are copied, never what a run left behind in the example.
"""

from __future__ import annotations

from pathlib import Path

from base_model_selector.study.errors import StudyError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the package folder, base_model_selector/
PERSON_FILES = ("study.yaml", "system_prompt.md", "taxonomy.yaml", "rubric.yaml", "catalog.yaml")
"""What a person writes in a study; everything else in it is written by the tool."""


def examples_dir() -> Path | None:
    """The clone's examples/ (running from a checkout), else the copy inside the installed package."""
    for candidate in (PACKAGE_DIR.parent.parent / "examples", PACKAGE_DIR / "examples"):
        if candidate.is_dir():
            return candidate
    return None


def example_names() -> list[str]:
    root = examples_dir()
    return sorted(p.name for p in root.iterdir() if (p / "study.yaml").is_file()) if root else []


def example_files(name: str) -> dict[str, Path]:
    """The person-written files of example `name`, by file name; an unknown name lists the examples."""
    names = example_names()
    if name not in names:
        raise StudyError(f"no example study named {name!r}; the examples are: {', '.join(names) or '(none found)'}")
    source = examples_dir() / name  # type: ignore[operator]
    return {f: source / f for f in PERSON_FILES if (source / f).is_file()}
