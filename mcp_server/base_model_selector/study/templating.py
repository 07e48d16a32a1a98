"""Find and render the jinja2 templates (decision document, tables, judge and generator prompts).

Templates are looked up in three places, first match wins: the study's own `templates/` folder (a team's
override), the clone's top-level `templates/` (running from a checkout or a skill install), and the copy shipped
inside the wheel. jinja2 is imported here only, lazily, so the MCP server starts fast.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the package folder, base_model_selector/


def template_dirs(study_dir: Path | None = None) -> list[Path]:
    candidates = []
    if study_dir is not None:
        candidates.append(study_dir / "templates")
    candidates.append(PACKAGE_DIR.parent.parent / "templates")  # the clone: mcp_server/<pkg>/../../templates
    candidates.append(PACKAGE_DIR / "templates")  # the wheel
    return [d for d in candidates if d.is_dir()]


@functools.lru_cache(maxsize=16)
def _environment(dirs: tuple[Path, ...]) -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        autoescape=False,  # noqa: S701 - we render Markdown and prompts, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def environment(study_dir: Path | None = None) -> jinja2.Environment:
    return _environment(tuple(template_dirs(study_dir)))


def render(name: str, study_dir: Path | None = None, **context: Any) -> str:
    """Render template `name` with StrictUndefined, so a missing value is an error, not a blank."""
    return environment(study_dir).get_template(name).render(**context)


def source(name: str, study_dir: Path | None = None) -> str:
    """The text of the template `name` resolves to (the study's override first): what a render depends on."""
    template = environment(study_dir).get_template(name)
    return Path(template.filename).read_text(encoding="utf-8") if template.filename else ""
