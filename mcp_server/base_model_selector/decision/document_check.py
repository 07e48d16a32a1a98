"""The decision document's structure check and its HTML rendering, both with markdown-it-py.

A template can be overridden by a team and notes are written by people, so the rendered document is parsed and
checked before it is written: the required headings in order, every table row with its header's column count
(markdown-it quietly pads or cuts ragged rows, so the cells are counted in the source lines), and the chart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from base_model_selector.study import untrusted

if TYPE_CHECKING:
    from markdown_it.token import Token

REQUIRED_HEADINGS: tuple[tuple[int, str], ...] = (
    (2, "Model Selection"),
    (3, "Research Summary"),
    (3, "Selected Model"),
    (2, "Evaluation Results"),
    (2, "Failure Analysis"),
    (2, "Qualitative Notes"),
    (2, "Next Steps"),
    (2, "Appendix"),
    (3, "Category Scores"),
    (3, "Failure Rate by Criterion"),
    (3, "Judge Reliability"),
    (3, "Run Metrics"),
    (3, "Reproducibility"),
)
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def check_document(text: str) -> list[str]:
    """Problems with a rendered document: missing or misordered headings, ragged or broken tables, no chart."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = text.splitlines()
    problems: list[str] = []
    headings: list[tuple[int, str, int]] = []
    fences: list[str] = []
    header_cells: int | None = None
    covered: set[int] = set()  # source lines that belong to a table or a code block
    for i, tok in enumerate(tokens):
        if tok.type in ("table_open", "fence", "code_block") and tok.map:
            covered.update(range(*tok.map))
        if tok.type == "heading_open":
            at = tok.map[0] + 1 if tok.map else 0
            headings.append((int(tok.tag[1]), tokens[i + 1].content.strip(), at))
        elif tok.type == "fence":
            fences.append(tok.info.strip())
        elif tok.type == "thead_open":
            header_cells = None
        elif tok.type == "tr_open" and tok.map:
            row = tok.map[0]
            count = _count_cells(lines[row])
            if header_cells is None:
                header_cells = count
                delimiter = _count_cells(lines[row + 1]) if row + 1 < len(lines) else 0
                if delimiter != count:
                    problems.append(f"line {row + 2}: the table's delimiter row has {delimiter} columns, not {count}")
            elif count != header_cells:
                problems.append(f"line {row + 1}: a table row has {count} columns; its header has {header_cells}")
        elif tok.type == "table_close":
            header_cells = None
    for number, text_line in enumerate(lines):
        if text_line.lstrip().startswith("|") and number not in covered:
            problems.append(
                f"line {number + 1}: looks like a table row but is not read as part of a table "
                "(does the delimiter row have the header's column count?)"
            )
            break
    if not headings or headings[0][0] != 1:
        problems.append("the document must start with a level-1 title heading")
    position = 0
    for level, title in REQUIRED_HEADINGS:
        found = next(
            (j for j in range(position, len(headings)) if headings[j][:2] == (level, title)),
            None,
        )
        if found is None:
            anywhere = [h for h in headings if h[:2] == (level, title)]
            where = f" (it is at line {anywhere[0][2]}, out of order)" if anywhere else ""
            problems.append(f"missing heading {'#' * level} {title}{where}")
        else:
            position = found + 1
    if "mermaid" not in fences:
        problems.append("the mermaid chart of failure rate by criterion is missing")
    return problems


def _count_cells(line: str) -> int:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return len(_UNESCAPED_PIPE.split(body))


CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def render_html(markdown: str, title: str) -> str:
    """Standalone HTML of the document that loads and runs nothing: raw HTML in the Markdown stays escaped,
    images become their alt text, links survive only to http(s), mailto, anchors or relative paths, and a
    Content-Security-Policy forbids every remote resource and script should anything slip through."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.validateLink = untrusted.link_allowed  # type: ignore[method-assign,assignment]
    md.add_render_rule("image", _image_as_text)
    body = md.render(markdown)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{untrusted.html_text(title, multiline=False)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top}"
        "pre{background:#f6f8fa;padding:.5rem;overflow:auto}</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def _image_as_text(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An image in the Markdown is shown as its alt text in brackets; the HTML copy never fetches anything."""
    alt = renderer.renderInlineAsText(tokens[idx].children or [], options, env)
    return "[image: " + untrusted.html_text(alt, multiline=False) + "]"
