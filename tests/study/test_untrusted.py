"""Untrusted text: cleaned of control and bidi characters, rendered literally in Markdown and HTML, linked only
to http(s). Properties over arbitrary Unicode (hypothesis) and the attacks the tool has met, as examples."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from base_model_selector.study import untrusted

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)  # surrogates and controls included
MARKDOWNISH = st.lists(
    st.sampled_from([*list("\\`*_[]()<>|#!~&$-+=.:;/ \n\t\r1aZ\u202e\u200b\x1b\x07\x00"), "https://", "&amp;"]),
    max_size=40,
).map("".join)
FAST = settings(max_examples=150, deadline=None)

ATTACK = (
    "![x](https://evil.example/pixel.png) <img src=https://evil.example/a> <script>alert(1)</script> "
    "[click](javascript:alert(1)) <https://evil.example> # heading | cell | &lt;b&gt; **bold** `code` "
    "safe\u202etxt.exe \x1b[31mred\x07"
)


def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _inline_tokens(tokens: list[Token]) -> list[Token]:
    return [child for tok in tokens if tok.type == "inline" for child in tok.children or []]


def _literal(text: object) -> str:
    return " ".join(untrusted.clean(text).split())


def _no_unsafe_characters(text: str, *, keep: str = "") -> bool:
    return all(ch in keep or unicodedata.category(ch)[0] != "C" for ch in text)


@FAST
@given(ANY_TEXT | MARKDOWNISH)
def test_cleaned_text_has_no_control_format_or_bidi_characters_and_cleaning_twice_changes_nothing(text: str) -> None:
    single, multi = untrusted.clean(text), untrusted.clean(text, multiline=True)
    assert _no_unsafe_characters(single) and _no_unsafe_characters(multi, keep="\n\t")
    assert untrusted.clean(single) == single and untrusted.clean(multi, multiline=True) == multi
    multi.encode("utf-8")  # no lone surrogate survives


@FAST
@given(ANY_TEXT | MARKDOWNISH, st.integers(min_value=1, max_value=30), st.booleans())
def test_inert_text_is_capped_printable_and_stable(text: str, limit: int, single_line: bool) -> None:
    out = untrusted.inert(text, limit, single_line=single_line)
    assert len(out) <= limit
    assert _no_unsafe_characters(out, keep="" if single_line else "\n")
    assert untrusted.inert(out, limit, single_line=single_line) == out


@FAST
@given(ANY_TEXT | MARKDOWNISH)
def test_md_inline_renders_as_exactly_its_literal_text_in_a_paragraph_a_list_item_and_a_table_cell(
    text: str,
) -> None:
    escaped = untrusted.md_inline(text)
    assert "\n" not in escaped
    for source in (escaped, f"- {escaped}", f"| h |\n|---|\n| {escaped} |\n", f"#### id: {escaped}"):
        tokens = _md().parse(source)
        if source.startswith("| h |"):  # only the body cell, not the header
            tokens = tokens[[t.type for t in tokens].index("tbody_open") :] if escaped else []
        children = _inline_tokens(tokens)
        assert {c.type for c in children} <= {"text"}, (source, children)
        rendered = "".join(c.content for c in children).removeprefix("id:").removeprefix(" ")
        assert rendered == _literal(text), source
        assert not {t.type for t in tokens} & {"html_block", "code_block", "fence", "hr", "blockquote_open"}


@FAST
@given(ANY_TEXT | MARKDOWNISH)
def test_md_block_keeps_lines_and_renders_nothing_but_text(text: str) -> None:
    tokens = _md().parse(untrusted.md_block(text))
    assert {t.type for t in tokens} <= {"paragraph_open", "paragraph_close", "inline"}
    children = _inline_tokens(tokens)
    assert {c.type for c in children} <= {"text", "hardbreak"}
    lines = [_literal(line) for line in untrusted.clean(text, multiline=True).split("\n")]
    assert "".join(c.content for c in children) == "".join(lines)


@FAST
@given(ANY_TEXT | MARKDOWNISH)
def test_md_code_is_one_code_span_that_nothing_inside_can_close(text: str) -> None:
    span = untrusted.md_code(text)
    children = _inline_tokens(_md().parse(span))
    if not _literal(text):
        assert span == ""
        return
    assert [c.type for c in children] == ["code_inline"] and children[0].content == _literal(text)


@FAST
@given(ANY_TEXT | MARKDOWNISH, ANY_TEXT | MARKDOWNISH | st.sampled_from(["https://a.example/x", "http://b.example"]))
def test_md_link_is_a_web_link_or_plain_text_never_an_image(text: str, url: str) -> None:
    target = untrusted.safe_url(url)
    children = _inline_tokens(_md().parse(untrusted.md_link(text, url)))
    types = [c.type for c in children]
    assert "image" not in types
    if target is None:
        assert set(types) <= {"text"}
    else:
        assert target.lower().startswith(("http://", "https://"))
        assert types[0] == "link_open" and children[0].attrGet("href") is not None
        assert str(children[0].attrGet("href")).lower().startswith(("http://", "https://"))


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative/path",
        "https://good.example@evil.example/",
        "https:evil.example",
        "http://[broken",
        "http://x.example:99999/",
    ],
)
def test_only_absolute_http_urls_with_a_host_are_ever_linked(url: str) -> None:
    assert untrusted.safe_url(url) is None
    assert untrusted.md_url(url) == "#"
    assert "href" not in untrusted.html_link("x", url) and "<a" not in _md().render(untrusted.md_link("x", url))


def test_a_safe_url_cannot_break_out_of_a_markdown_link_or_an_html_attribute() -> None:
    url = 'https://x.example/a (b)"><script>|`'
    assert untrusted.safe_url(url) == "https://x.example/a%20%28b%29%22%3E%3Cscript%3E%7C%60"
    assert untrusted.html_link("<b>t</b>", url).startswith('<a href="https://x.example/a%20%28b%29')
    assert "&lt;b&gt;t&lt;/b&gt;</a>" in untrusted.html_link("<b>t</b>", url)


def test_a_scenario_full_of_markdown_html_and_bidi_renders_inert_in_markdown_and_html() -> None:
    rendered = _md().render(untrusted.md_inline(ATTACK))
    for live in ("<img", "<script", "<a ", "<strong", "<code", "<h4", "<td", "\u202e", "\x1b", "\x07"):
        assert live not in rendered
    assert "![x](https://evil.example/pixel.png)" in rendered and "&lt;script&gt;" in rendered
    assert "&amp;lt;b&amp;gt;" in rendered, "an entity stays the characters written, not the character it names"
    html = untrusted.html_text(ATTACK)
    assert "<" not in html and "\u202e" not in html and "&lt;script&gt;" in html


NOTES_PIECES = st.lists(
    st.sampled_from(
        [
            "![x](https://evil.example/p.png)",
            "<img src=https://e.example/a>",
            "<!-- c -->",
            "<div>",
            "</div>",
            "[a](javascript:alert(1))",
            "[b](https://ok.example)",
            "[c](docs/x.md)",
            "(",
            ")",
            "[",
            "]",
            "![",
            "](",
            "[r]: javascript:x",
            "[r]: https://ok.example",
            "[a][r]",
            "<https://ok.example>",
            "<mailto:x@y>",
            "&#106;avascript:x",
            "`",
            "``",
            "```",
            "~~~",
            "    ",
            "  ",
            "> ",
            "- ",
            "1. ",
            "PIPE a PIPE b PIPE",
            "PIPE---PIPE---PIPE",
            "\n",
            "\n\n",
            "\\",
            "text",
            "#",
            "<script>",
            "data:image/png;base64,AA",
            " ",
            "//evil.example/share",
        ]
    ).map(lambda piece: piece.replace("PIPE", "|")),
    max_size=30,
).map("".join)


def _permissive_md() -> MarkdownIt:
    """A renderer that trusts every link and raw HTML, as a careless viewer would: what it shows is what leaks."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def _web_or_relative(href: str) -> bool:
    scheme = href.split(":", 1)[0].lower() if ":" in href.split("/", 1)[0] else ""
    return scheme in ("", "http", "https", "mailto")


@settings(max_examples=300, deadline=None)
@given(NOTES_PIECES)
def test_defanged_notes_load_nothing_and_link_only_to_the_web(notes: str) -> None:
    tokens = _permissive_md().parse(untrusted.md_defang(notes))
    everything = tokens + _inline_tokens(tokens)
    assert not [t for t in everything if t.type in ("image", "html_inline", "html_block")]
    for link in (t for t in everything if t.type == "link_open"):
        assert _web_or_relative(str(link.attrGet("href"))), link


def test_defanged_notes_keep_ordinary_markdown() -> None:
    notes = "Polite but **generic**; see [the log](https://ci.example/run/1) and [spec](docs/spec.md).\n\n- one\n"
    assert untrusted.md_defang(notes) == notes
    fenced = "```html\n<img src=x> ![x](y)\n```"
    assert untrusted.md_defang(fenced) == fenced, "code blocks show Markdown, so they are left alone"


def test_clean_data_cleans_every_string_in_a_result_and_keeps_its_type() -> None:
    from pydantic import BaseModel

    class Inner(BaseModel):
        text: str

    class Result(BaseModel):
        items: list[Inner]
        by_key: dict[str, str]
        count: int

    raw = Result(items=[Inner(text="a\u202eb\nc\x1b[0m")], by_key={"k\x07": "v\u2066"}, count=3)
    cleaned = untrusted.clean_data(raw)
    assert isinstance(cleaned, Result) and isinstance(cleaned.items[0], Inner)
    assert cleaned.items[0].text == "a b\nc [0m" and cleaned.by_key == {"k ": "v "} and cleaned.count == 3
    assert raw.items[0].text == "a\u202eb\nc\x1b[0m", "the original is not changed"


def test_clean_data_leaves_enum_members_alone() -> None:
    from enum import Enum

    class Band(str, Enum):
        FINE_TUNE = "fine_tune"

    assert untrusted.clean_data({"band": Band.FINE_TUNE})["band"] is Band.FINE_TUNE
