"""Text from the web, made safe to store, show and quote: flagging, URL canonicalising, HTML to text, and a
guarded page fetch.

Everything that arrives from a search engine or a web page is untrusted. A page may try to talk to the agent
reading it ("ignore previous instructions…"), hide text with control or bidirectional characters, or be
megabytes long. Such input becomes inert, length-capped plain text (`study.untrusted.inert`, the one cleaning
rule every renderer shares) that the rest of the tool carries as data: it is quoted as evidence, flagged when it
looks like instructions, and never interpreted.
Page fetching refuses non-http(s) URLs and (by default) hosts on private, loopback or link-local networks, and
stops reading after a byte cap. trafilatura (the optional `fetch` extra) extracts main text when installed;
otherwise a small standard-library extractor keeps the visible text of the page.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

from base_model_selector.study.untrusted import inert, safe_url

TITLE_MAX = 200
EXCERPT_MAX = 600
PAGE_TEXT_MAX = 4000
FETCH_MAX_BYTES = 2_000_000

INSTRUCTION_FLAG = "instruction-like text (kept as quoted data, not followed)"
KNOWN_FLAGS = frozenset({INSTRUCTION_FLAG})
"""The only flags a web result can carry; anything else read back from a file is dropped."""
_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|your)\b"
    r"[^.\n]{0,30}\b(instructions?|prompts?|rules|guidelines)\b"
    r"|\bsystem prompt\b|\byou are now\b|\bnew instructions\b|<\s*/?\s*(system|assistant|user)\s*>",
    re.IGNORECASE,
)


def instruction_flags(*texts: str | None) -> list[str]:
    """A flag when any text reads like an instruction to the agent; the text itself is kept unchanged."""
    return [INSTRUCTION_FLAG] if any(_INSTRUCTION_LIKE.search(t or "") for t in texts) else []


def checked_flags(stored: list[str], *texts: str | None) -> list[str]:
    """The flags a result read back from disk may carry: the tool's own, recomputed from its text, never ones a
    file edit (or a page) chose."""
    return sorted({f for f in stored if f in KNOWN_FLAGS} | set(instruction_flags(*texts)))


def canonical_url(url: str) -> str | None:
    """The URL used to deduplicate results: http(s) only, lower-case host, no fragment, no tracking
    parameters, no trailing slash. None for anything that is not a web URL."""
    text = safe_url(inert(url, 2000))
    if text is None:
        return None
    parts = urlsplit(text)
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith(("utm_", "fbclid=", "gclid=")))
    netloc = parts.netloc.lower()
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))


# ---------------------------------------------------------------- HTML → text
class _VisibleText(HTMLParser):
    """Collects the text a reader would see, skipping scripts, styles, navigation and other page chrome."""

    SKIP = frozenset(
        {"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "aside", "form", "iframe"}
    )
    BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "pre",
            "blockquote",
            "table",
            "ul",
            "ol",
            "dd",
            "dt",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(self._skip - 1, 0)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, main text) of an HTML page: trafilatura's extraction when installed, else the visible text."""
    parser = _VisibleText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was parsed
        pass
    title = inert("".join(parser.title), TITLE_MAX)
    text = None
    try:
        import trafilatura  # optional extra `fetch`
    except ImportError:
        trafilatura = None
    if trafilatura is not None:
        text = trafilatura.extract(html, include_comments=False, include_tables=False)
    if not text:
        text = "".join(parser.parts)
    return title, inert(text, PAGE_TEXT_MAX, single_line=False)


# ---------------------------------------------------------------- fetching
class PageFetcher(Protocol):
    """Fetches a web page's HTML (or plain text). Raises on any failure; the caller records it and moves on."""

    def fetch(self, url: str) -> str: ...


class FetchRefused(Exception):
    """A URL the fetcher will not visit, or a response it will not read."""


def _public_host(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return True


class HttpPageFetcher:
    """httpx GET with a timeout, a byte cap, manual redirects (each hop re-checked) and no private networks.

    `allow_private=True` lets it reach loopback/private hosts (an intranet wiki, a local test server).
    """

    def __init__(self, *, timeout_s: float = 10.0, max_bytes: int = FETCH_MAX_BYTES, allow_private: bool = False):
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.allow_private = allow_private

    def fetch(self, url: str) -> str:
        import httpx

        headers = {"User-Agent": "base-model-selector (research; +https://pypi.org/project/base-model-selector)"}
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False, headers=headers) as client:
            for _hop in range(5):
                self._check(url)
                with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise FetchRefused(f"HTTP {response.status_code}")
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind and kind not in {"text/html", "text/plain", "application/xhtml+xml"}:
                        raise FetchRefused(f"content type {kind!r} is not a web page")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) >= self.max_bytes:
                            break
                    return bytes(body[: self.max_bytes]).decode(response.encoding or "utf-8", "replace")
        raise FetchRefused("too many redirects")

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            raise FetchRefused(f"not an http(s) URL: {url[:100]!r}")
        if not self.allow_private and not _public_host(parts.hostname):
            raise FetchRefused(f"host {parts.hostname!r} is private, loopback or unresolvable")
