"""Untrusted text on the review page: model output, scenario text and judge reasoning, shown as inert text.

Everything a model wrote (and everything a scenario file or a judge reply may contain) is data. On the page it is
cleaned of control and bidirectional characters by the core's `study/untrusted.py` (a U+202E must not make
`exe.txt` read as `txt.exe`), escaped by jinja2's autoescaping, and never rendered as Markdown or HTML:
`![x](https://…)` stays those characters, not an image, and `<script>` stays text. Line breaks and indentation
stay, so a SQL answer still reads as one. The one thing made clickable is a bare http(s) URL (`safe_url`), as a
link that sends no referrer (the page's URL holds its token) and opens in a new tab; `javascript:` and every
other scheme stay text. The Content-Security-Policy (app.py) is the second wall behind this one.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from base_model_selector.study.untrusted import clean as clean_text
from base_model_selector.study.untrusted import safe_url

MAX_CHARS = 200_000  # far above any response; a runaway reply is cut, not the page
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}*_~"


def clean(text: object) -> str:
    """Printable text with its line breaks and indentation: control, format and bidi characters removed."""
    out = clean_text(text, multiline=True)
    return out if len(out) <= MAX_CHARS else out[: MAX_CHARS - 1] + "…"


def linked(text: object) -> Markup:
    """Cleaned, escaped text in which bare http(s) URLs are links (no referrer, no opener); nothing else is."""
    source = clean(text)
    out: list[str] = []
    start = 0
    for match in _URL.finditer(source):
        url = match.group(0).rstrip(_TRAILING)
        target = safe_url(url)
        if target is None:
            continue
        out.append(str(escape(source[start : match.start()])))
        out.append(f'<a href="{escape(target)}" rel="noopener noreferrer nofollow" target="_blank">{escape(url)}</a>')
        start = match.start() + len(url)
    out.append(str(escape(source[start:])))
    return Markup("".join(out))  # noqa: S704 - every piece above was escaped
