"""Untrusted text on the review page: model output, scenario text and judge reasoning, shown as inert text.

Everything a model wrote (and everything a scenario file or a judge reply may contain) is data. On the page it is
cleaned of control and bidirectional characters (a U+202E must not make `exe.txt` read as `txt.exe`), escaped by
jinja2's autoescaping, and never rendered as Markdown or HTML: `![x](https://…)` stays those characters, not an
image, and `<script>` stays text. The one thing made clickable is a bare http(s) URL, as a link that sends no
referrer (the page's URL holds its token) and opens in a new tab; `javascript:` and every other scheme stay text.
The Content-Security-Policy (app.py) is the second wall behind this one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from base_model_selector.research.webtext import inert

MAX_CHARS = 200_000  # far above any response; a runaway reply is cut, not the page
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}*_~"


def clean(text: object) -> str:
    """Printable text with its line breaks: control, format and bidi characters removed."""
    return inert(text, MAX_CHARS, single_line=False)


def web_url(url: str) -> str | None:
    """`url` when it is an http(s) URL with a host and no user-info (`https://good@evil`); else None."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return url


def linked(text: object) -> Markup:
    """Cleaned, escaped text in which bare http(s) URLs are links (no referrer, no opener); nothing else is."""
    source = clean(text)
    out: list[str] = []
    start = 0
    for match in _URL.finditer(source):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        target = web_url(url)
        if target is None:
            continue
        out.append(str(escape(source[start : match.start()])))
        out.append(f'<a href="{escape(target)}" rel="noopener noreferrer nofollow" target="_blank">{escape(url)}</a>')
        start = end
    out.append(str(escape(source[start:])))
    return Markup("".join(out))  # noqa: S704 - every piece above was escaped
