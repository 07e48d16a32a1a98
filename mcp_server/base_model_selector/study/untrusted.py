"""Untrusted text made inert: the one place that decides how outside text is cleaned, escaped and linked.

Web pages, model replies, scenario text, judge reasoning and anything read back from a file someone else could
have edited are data, never markup and never instructions. A scenario that says `![x](https://evil/pixel)`
must not become a remote image in the decision document, a `<script>` must stay text in the HTML copy, and a
right-to-left override (U+202E) must not make `exe.txt` read as `txt.exe`. Every renderer (the decision
document and its HTML copy, the comparison table, the review page, MCP results) goes through these functions
instead of escaping on its own, so one fix here fixes every output.

Cleaning:
- `clean(text, multiline=False)`: NFC text without control characters (C0, C1, DEL), format characters
  (bidirectional overrides and isolates, zero-width characters, tag characters), surrogates, private-use or
  unassigned code points; each becomes a space. `multiline=True` keeps newlines and tabs (CR and the Unicode
  line/paragraph separators become newlines); otherwise they become spaces too.
- `inert(text, limit, single_line=True)`: `clean`, whitespace collapsed, cut at `limit` characters with "…".
- `inert_field(limit, single_line=True)`: the same as a pydantic validator, so a model cleans on every read.
- `clean_data(value)`: every string inside a result (pydantic models, lists, dicts) cleaned as by
  `clean(multiline=True)`: what the MCP server returns and the CLI prints never carries a terminal escape or a
  bidi override, whichever step put the text there.

Markdown (CommonMark and GitHub's tables):
- `md_inline(text)`: one line that renders as exactly its literal text in a paragraph, table cell, list item
  or heading: no emphasis, code, links, images, autolinks, raw HTML, entities, headings, lists or table breaks.
- `md_block(text)`: several lines rendered literally, line breaks kept (paragraphs for blank lines).
- `md_code(text, table=False)`: a code span that cannot be closed early; `table=True` escapes pipes for a cell.
- `safe_url(url)`: the URL if it is an http(s) URL with a host and no user-info, percent-encoded so it cannot
  break out of `(...)` or an HTML attribute; None otherwise (`javascript:`, `data:`, `file:`, relative…).
- `md_url(url)`: `safe_url` or `#`, for templates that always need a link target.
- `md_link(text, url)`: `[text](url)` for a safe URL, else the escaped text alone. Never an image.
- `link_allowed(href)`: whether a rendered link may point there: http(s), mailto, an anchor or a relative path.
- `md_defang(markdown)`: Markdown a person or agent wrote (notes) kept as Markdown, minus what can fetch or run
  something: images become literal text, raw HTML tags are escaped, and a link survives only when it points to
  an http(s) or mailto URL, an anchor or a plain relative path.

HTML:
- `html_text(text, multiline=True)`: cleaned and escaped for element content and quoted attribute values.
- `html_link(text, url)`: an `<a>` (rel="noopener noreferrer nofollow") for a safe URL, else the escaped text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel

__all__ = [
    "clean",
    "clean_data",
    "html_link",
    "html_text",
    "inert",
    "inert_field",
    "link_allowed",
    "md_block",
    "md_code",
    "md_defang",
    "md_inline",
    "md_link",
    "md_url",
    "safe_url",
]

_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
# Escaped wherever they appear: each can open a code span, emphasis, link, image, autolink, HTML, table cell,
# strikethrough or math. `_` only matters next to a non-alphanumeric (intraword `_` is inert, so `num_predict`
# stays readable), `&` only before something that reads as an entity, and `#` only where it makes or closes a
# heading: at the start and in a trailing run (so "ranked #1" stays as written).
_MD_SPECIAL = re.compile(
    r"[\\`*\[\]<|~$]|(?<![^\W_])_|_(?![^\W_])|&(?=#\d+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)|#(?=#*$)"
)
# Block markers that only act at the start of a line (or of a list item's or a quote's content).
_MD_LINE_START = re.compile(r"^(?:(\d{1,9})([.)])(?=\s|$)|([>=#])|([-+])(?=[\s+-]|$))")
_URL_UNSAFE = re.compile(r"[\s()<>\[\]`\"'\\|{}^]")
_WEB_SCHEMES = frozenset({"http", "https"})


def _keep(ch: str, multiline: bool) -> bool:
    if multiline and ch in "\n\t":
        return True
    return unicodedata.category(ch)[0] != "C"


def clean(text: object, *, multiline: bool = False) -> str:
    """`text` without control, format (bidi, zero-width), surrogate, private-use or unassigned characters.

    Each removed character becomes a space, so words it separated stay apart. With `multiline`, newlines and
    tabs are kept (CR, CRLF, NEL and U+2028/U+2029 become newlines); without it they are spaces too.
    """
    raw = "" if text is None else str(text)
    if multiline:
        raw = _LINE_BREAKS.sub("\n", raw)
    kept = "".join(ch if _keep(ch, multiline) else " " for ch in raw)
    return unicodedata.normalize("NFC", kept)


def clean_data(value: Any) -> Any:
    """`value` with every string in it cleaned (newlines and tabs kept); pydantic models are copied, not
    re-validated, so a result keeps its type and its schema. Enum members (`str` subclasses) are the tool's own
    constants and stay as they are."""
    if type(value) is str:
        return clean(value, multiline=True)
    if isinstance(value, BaseModel):
        return value.model_copy(update={name: clean_data(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return [clean_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(clean_data(item) for item in value)
    if isinstance(value, dict):
        return {clean_data(key): clean_data(item) for key, item in value.items()}
    return value


def inert(text: object, limit: int, *, single_line: bool = True) -> str:
    """`text` as plain, printable, length-capped text: cleaned, whitespace collapsed, cut at `limit`
    characters with an ellipsis. With `single_line=False` line breaks stay (at most one blank line in a row)."""
    cleaned = clean(text, multiline=not single_line)
    if single_line:
        out = " ".join(cleaned.split())
    else:
        lines = [" ".join(line.split()) for line in cleaned.split("\n")]
        out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(out) > limit:
        out = out[: max(limit - 1, 0)].rstrip() + "…"
    return out


def inert_field(limit: int, *, single_line: bool = True) -> AfterValidator:
    """A pydantic validator applying `inert` (None stays None): `title: Annotated[str, inert_field(200)]` cleans
    on every load, so text read back from a file someone edited is as inert as text the tool wrote."""
    return AfterValidator(lambda value: value if value is None else inert(value, limit, single_line=single_line))


def md_inline(text: object) -> str:
    """Escape untrusted text for one line of Markdown (a table cell, list item, heading or sentence), so it
    renders as exactly its cleaned, whitespace-collapsed literal text."""
    flat = " ".join(clean(text).split())
    escaped = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    return _MD_LINE_START.sub(_escape_line_start, escaped)


def _escape_line_start(match: re.Match[str]) -> str:
    number, delimiter, *marker = match.groups()
    return f"{number}\\{delimiter}" if number else "\\" + "".join(m for m in marker if m)


def md_block(text: object) -> str:
    """Escape untrusted multi-line text for Markdown: each line literal (as `md_inline`), line breaks kept as
    hard breaks and blank lines as paragraph breaks. Indentation is dropped, so nothing becomes a code block."""
    paragraphs: list[list[str]] = [[]]
    for line in clean(text, multiline=True).split("\n"):
        escaped = md_inline(line)
        if escaped:
            paragraphs[-1].append(escaped)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("\\\n".join(lines) for lines in paragraphs if lines)


def md_code(text: object, *, table: bool = False) -> str:
    """Untrusted text as a Markdown code span that nothing inside can close early (empty text: empty string).

    `table=True` escapes pipes, which would otherwise end a table cell even inside a code span."""
    flat = " ".join(clean(text).split())
    if not flat:
        return ""
    if table:
        flat = flat.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat[0] == "`" or flat[-1] == "`" else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def safe_url(url: object) -> str | None:
    """`url` if it is an absolute http(s) URL with a host and no user-info (`https://good@evil`), with every
    character that could end a Markdown link or an HTML attribute percent-encoded; None for anything else."""
    text = clean(url).strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or not host or "@" in parts.netloc:
        return None
    return _URL_UNSAFE.sub(lambda m: quote(m.group(0), safe=""), text)


def md_url(url: object) -> str:
    """A link target for Markdown: `safe_url(url)`, or `#` when the URL is not a safe web URL."""
    return safe_url(url) or "#"


def md_link(text: object, url: object) -> str:
    """`[text](url)` when `url` is a safe web URL, else the escaped text alone; never an image."""
    label = md_inline(text)
    target = safe_url(url)
    if target is None:
        return label
    return f"[{label or md_inline(target)}]({target})"


def link_allowed(href: str) -> bool:
    """A link target a rendered document may keep: http(s), mailto, `#anchor` or a relative path without a
    scheme. `javascript:`, `data:`, `file:`, `vbscript:`, every other scheme and `//host` are refused."""
    text = clean(href).strip()
    if text.startswith(("//", "\\", "/\\")):  # protocol-relative: from a file on disk, a network share
        return False
    head = re.split(r"[/?#]", text, maxsplit=1)[0]
    return ":" not in head or head.split(":", 1)[0].lower() in {"http", "https", "mailto"}


_WEB_TARGET = r"\s*<?(?:https?://|mailto:|#|[\w.~/%-]+(?:#[\w.~%-]*)?\s*(?:[)\s\"'>]|$))"
_DEFANG = re.compile(
    r"(?P<slashes>\\*)(?:"
    r"(?P<image>!)(?=\[)"  # an image: ![alt](src)
    r"|(?P<tag><)(?!https?://)(?=[A-Za-z/!?])"  # raw HTML, or an autolink that is not http(s)
    r"|(?P<target>\])(?=\((?!" + _WEB_TARGET + r"))"  # a link to anything but the web or a relative path
    r"|(?P<definition>\[)(?=[^\]\n]*\]:(?!" + _WEB_TARGET + r"))"  # a link definition, likewise
    r")"
)


def md_defang(markdown: object) -> str:
    """Markdown someone wrote, still Markdown, but unable to load a remote resource or link anywhere but the web.

    Outside code blocks (as a CommonMark parser with raw HTML on, like GitHub's, sees them): an image's `![`
    becomes `!\\[` (text), an HTML tag or non-web autolink's `<` becomes `\\<`, and a link or link definition
    whose target is not http(s), mailto, an anchor or a plain relative path (`javascript:`, `data:`, an entity…)
    loses its bracket, so it renders as text. Code spans are escaped too (a visible backslash there is the price
    of never misjudging where one ends). Control and bidi characters are removed as by `clean`.
    """
    lines = clean(markdown, multiline=True).split("\n")
    done = [False] * len(lines)
    for _ in range(len(lines) + 1):  # escaping can turn a code line into text; repeat until none is left
        code = _code_lines("\n".join(lines))
        todo = [i for i, finished in enumerate(done) if not finished and i not in code]
        if not todo:
            break
        for i in todo:
            lines[i] = _DEFANG.sub(_defang_match, lines[i])
            done[i] = True
    return "\n".join(lines)


def _defang_match(match: re.Match[str]) -> str:
    slashes = match.group("slashes")
    char = match.group(0)[len(slashes) :]
    if len(slashes) % 2:  # already escaped
        return match.group(0)
    if match.group("image"):
        return f"{slashes}!\\"
    return f"{slashes}\\{char}"


def _code_lines(markdown: str) -> set[int]:
    """Lines inside fenced or indented code blocks, where Markdown is shown, never interpreted."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(markdown)
    return {line for tok in tokens if tok.type in ("fence", "code_block") and tok.map for line in range(*tok.map)}


def html_text(text: object, *, multiline: bool = True) -> str:
    """Cleaned text escaped for HTML element content and quoted attribute values."""
    return html.escape(clean(text, multiline=multiline), quote=True)


def html_link(text: object, url: object) -> str:
    """An `<a>` to a safe web URL (no referrer, no opener), else the escaped text alone; never an image."""
    label = html_text(text, multiline=False)
    target = safe_url(url)
    if target is None:
        return label
    return f'<a href="{html.escape(target, quote=True)}" rel="noopener noreferrer nofollow">{label or target}</a>'
