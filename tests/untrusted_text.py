"""Hostile text and the checks that it stayed inert, shared by every test of a renderer (documents, tables,
MCP results): Markdown, HTML, script, `javascript:` and `data:` links, a remote image, bidi overrides and
terminal control characters, all in one string."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from base_model_selector.study.untrusted import link_allowed

ATTACK = (
    "![x](https://evil.example/pixel.png) <img src=https://evil.example/a.png> <script>alert(1)</script> "
    "[click](javascript:alert(1)) [data](data:text/html,hi) <https://evil.example/auto> "
    "# heading | cell | &lt;b&gt; **bold** `code` safe\u202etxt.exe \x1b[31mred\x07 \u2066isolate\u2069"
)
UNSAFE_CHARACTERS = ("\u202e", "\u2066", "\u2069", "\x1b", "\x07", "\x00")


def _all_tokens(tokens: list[Token]) -> list[Token]:
    return tokens + [c for t in tokens if t.children for c in _all_tokens(t.children)]


def assert_inert_markdown(text: str) -> None:
    """Rendered by a viewer that trusts raw HTML and every link (the worst case), the Markdown loads nothing,
    runs nothing and links only to the web; no control or bidi character is left in it."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    tokens = _all_tokens(md.parse(text))
    comment = re.compile(r"\s*<!--.*?-->\s*", re.DOTALL)  # the tool's own provenance line: loads nothing
    live = [
        t
        for t in tokens
        if t.type == "image" or (t.type in ("html_inline", "html_block") and not comment.fullmatch(t.content))
    ]
    assert not live, f"live images or HTML: {[t.content or t.attrs for t in live][:3]}"
    bad = [t.attrGet("href") for t in tokens if t.type == "link_open" and not link_allowed(str(t.attrGet("href")))]
    assert not bad, f"links to something other than the web: {bad}"
    assert_no_unsafe_characters(text)


def assert_inert_html(text: str) -> None:
    """The HTML fetches nothing (no src, a CSP that forbids it), runs nothing and links only to the web."""
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    tags = re.findall(r"<([A-Za-z][^>]*)>", text)  # real tags: text in the page has its `<` escaped
    names = {tag.split()[0].lower() for tag in tags}
    assert not names & {"script", "img", "iframe", "object", "embed", "link", "svg", "video", "audio", "base"}
    assert not [t for t in tags if re.search(r"\s(src|srcset|on\w+|style)\s*=", t, re.IGNORECASE)]
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert all(link_allowed(h) for h in hrefs), hrefs
    assert_no_unsafe_characters(text)


def assert_no_unsafe_characters(value: Any) -> None:
    """No control (other than newline and tab) or format character in any string inside `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert_no_unsafe_characters(key)
            assert_no_unsafe_characters(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_no_unsafe_characters(item)
    elif isinstance(value, str):
        bad = [ch for ch in value if ch not in "\n\t" and unicodedata.category(ch)[0] == "C"]
        assert not bad, f"unsafe characters {bad[:5]!r} in {value[:120]!r}"
