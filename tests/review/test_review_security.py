"""The review page answers only its own page, on loopback, with the token; writes only from the page itself.

A local web server that can rewrite verdicts and notes is a target: another user on the machine, any web page
the person visits (which can make the browser send requests to 127.0.0.1), and a hostile site rebinding its DNS
name to 127.0.0.1. Each is refused here with plain HTTP requests, and nothing is written.
"""

from __future__ import annotations

import socket
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

from base_model_selector.review.server import ReviewServer, bind_loopback
from base_model_selector.study.errors import StudyError

NOTES = {"qualitative": "Polite, accurate on how-to questions.", "base": {}}


def origin(page: ReviewServer) -> str:
    return f"http://127.0.0.1:{page.port}"


def post_notes(page: ReviewServer, **headers: str) -> httpx.Response:
    return httpx.post(page.url + "api/notes", json=NOTES, headers=headers)


@pytest.mark.parametrize("path", ["/", "/static/review.js", "/api/notes", "/not-the-token/", "/favicon.ico"])
def test_a_request_without_the_token_is_refused(review_page: ReviewServer, path: str) -> None:
    response = httpx.get(origin(review_page) + path)
    assert response.status_code == 403
    assert "review.js" not in response.text and review_page.token not in response.text


def test_a_token_that_differs_in_one_character_is_refused(review_page: ReviewServer) -> None:
    token = review_page.token
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert httpx.get(f"{origin(review_page)}/{wrong}/").status_code == 403
    assert httpx.get(review_page.url).status_code == 200


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1.evil.example:{port}", "127.0.0.1:1", "0.0.0.0:{port}"],
)
def test_a_foreign_host_header_is_refused_even_with_the_token(review_page: ReviewServer, host: str) -> None:
    """DNS rebinding: a hostile name resolved to 127.0.0.1 arrives with the token but with its own Host."""
    response = httpx.get(review_page.url, headers={"Host": host.format(port=review_page.port)})
    assert response.status_code == 421
    assert "<html" not in response.text


def test_localhost_is_accepted_as_the_host(review_page: ReviewServer) -> None:
    assert httpx.get(review_page.url, headers={"Host": f"localhost:{review_page.port}"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"Origin": "null"}, id="opaque-origin"),
        pytest.param({}, id="no-origin-no-fetch-metadata"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site-fetch"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="same-site-fetch"),
    ],
)
def test_a_write_not_from_the_page_itself_is_refused_and_writes_nothing(
    review_page: ReviewServer, headers: dict[str, str]
) -> None:
    response = post_notes(review_page, **headers)
    assert response.status_code == 403
    assert not review_page.study.paths.notes_md.exists()


def test_a_write_that_is_not_json_is_refused(review_page: ReviewServer) -> None:
    """A cross-site HTML form can send text/plain without a preflight; the page only accepts JSON."""
    response = httpx.post(
        review_page.url + "api/notes",
        content='{"qualitative": "x", "base": {}}',
        headers={"Origin": origin(review_page), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert not review_page.study.paths.notes_md.exists()


def test_a_same_origin_json_write_is_accepted(review_page: ReviewServer) -> None:
    response = post_notes(review_page, Origin=origin(review_page))
    assert response.status_code == 200, response.text
    assert "Polite, accurate" in review_page.study.paths.notes_md.read_text(encoding="utf-8")


def test_a_write_with_unknown_fields_is_refused_with_the_field(review_page: ReviewServer) -> None:
    body = {"qualitative": "x", "path": "/etc/passwd"}
    response = httpx.post(review_page.url + "api/notes", json=body, headers={"Origin": origin(review_page)})
    assert response.status_code == 400
    assert "path" in response.json()["error"]


@pytest.mark.parametrize("path", ["", "static/review.js", "static/review.css", "../"])
def test_every_response_carries_a_strict_content_security_policy_and_no_referrer(
    review_page: ReviewServer, path: str
) -> None:
    response = httpx.get(review_page.url + path)
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";") if part.strip()
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] in ("'self'", "'none'")
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


class _Inventory(HTMLParser):
    """Every tag with its attributes, to check the page for inline code and remote resources."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def test_the_page_has_no_inline_code_and_loads_nothing_from_elsewhere(review_page: ReviewServer) -> None:
    page = _Inventory()
    page.feed(httpx.get(review_page.url).text)
    assert not page.inline_script
    assert [attrs.get("src") for tag, attrs in page.tags if tag == "script"] == ["static/review.js"]
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"<{tag}> has an inline style"
        assert not [name for name in attrs if name.startswith("on")], f"<{tag}> has an inline event handler"
        assert tag not in ("img", "iframe", "object", "embed", "base"), f"<{tag}> on the page"
        if tag in ("script", "link"):
            target = attrs.get("src") or attrs.get("href") or ""
            assert not urlsplit(target).scheme and not target.startswith("//"), f"<{tag}> loads {target}"


def test_the_page_listens_on_127_0_0_1_only(review_page: ReviewServer) -> None:
    """127.0.0.2 is loopback too: a server bound to every address would answer there."""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", review_page.port), timeout=2).close()
    assert urlsplit(review_page.url).hostname == "127.0.0.1"


def test_a_taken_port_is_one_clear_error(review_page: ReviewServer) -> None:
    with pytest.raises(StudyError, match=rf"port {review_page.port} .* --port 0"):
        bind_loopback(review_page.port)


def test_each_start_makes_a_new_token_and_a_stopped_page_answers_nothing(review_page: ReviewServer) -> None:
    other = ReviewServer(review_page.study, review_page.model)
    other.start()
    try:
        assert other.token != review_page.token and len(other.token) >= 32
    finally:
        other.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(other.url, timeout=2)
