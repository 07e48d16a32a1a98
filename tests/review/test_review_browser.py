"""The review page in a real browser (Playwright driving the system Chromium): the whole qualitative review from
the page, and hostile text that stays text.

Playwright's own browser download is not reachable here, so the tests drive /usr/bin/chromium (CI installs it
with apt-get, see .ci/run) and are skipped, saying so, only when no Chromium binary exists. Every request the
page makes is recorded: none may leave 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from base_model_selector.decision.notes import parse_notes
from base_model_selector.review.server import ReviewServer
from base_model_selector.study.types import AssessmentReport
from evaluate_fixture import CANDIDATE
from review_fixture import BIDI, EVIL, HOSTILE_ID

CHROMIUM = Path(os.environ.get("BMS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: install it (apt-get install chromium) or set BMS_CHROMIUM",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary user-data dir: no profile, cache or extension carries over.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page in its own browser context, with everything it requested and every console message."""

    page: Any
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def left_loopback(self, port: int) -> list[str]:
        return [url for url in self.requests if urlsplit(url).netloc != f"127.0.0.1:{port}"]


@pytest.fixture
def open_tab(browser: Any) -> Iterator[Any]:
    contexts = []

    def open_(url: str) -> Tab:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        tab = Tab(context.new_page())

        def record(route: Any) -> None:
            tab.requests.append(route.request.url)
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()  # never reach the network, but remember that it was tried

        context.route("**/*", record)
        tab.page.on("console", lambda message: tab.console.append(f"{message.type}: {message.text}"))
        tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
        tab.page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        tab.page.goto(url)
        return tab

    yield open_
    for context in contexts:
        context.close()


def shown_count(tab: Tab) -> tuple[int, int]:
    match = re.match(r"(\d+) of (\d+) shown", tab.page.inner_text("#f-count"))
    assert match, tab.page.inner_text("#f-count")
    return int(match[1]), int(match[2])


def selected_card(tab: Tab) -> str:
    return tab.page.get_attribute("article.card:not([hidden])", "data-card")


def test_a_person_filters_walks_writes_the_notes_and_re_renders_the_document(
    open_tab: Any, review_page: ReviewServer
) -> None:
    study = review_page.study
    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text(encoding="utf-8"))
    decision = json.loads(study.paths.decision(CANDIDATE).read_text(encoding="utf-8"))
    worst = next(c["criterion_id"] for c in decision["failures"]["criteria"] if c["failures"])
    tab = open_tab(review_page.url)
    page = tab.page
    assert page.inner_text(".decision .band") == decision["verdict"]["label"]
    assert shown_count(tab) == (len(report.assessments), len(report.assessments))

    # walk the list with the keyboard
    order = page.eval_on_selector_all("#list li", "items => items.map(item => item.dataset.card)")
    assert selected_card(tab) == order[0]
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    assert selected_card(tab) == order[2]
    page.keyboard.press("k")
    assert selected_card(tab) == order[1]

    # select the worst criterion's bar: the list shows exactly the responses failing it
    page.click(f'svg .bar[data-criterion="{worst}"]')
    failing_ids = [a.scenario_id for a in report.assessments if worst in a.failed_criteria]
    assert shown_count(tab) == (len(failing_ids), len(report.assessments))
    visible = page.eval_on_selector_all("#list li:not([hidden])", "items => items.map(item => item.dataset.card)")
    assert visible == [i for i in order if i in failing_ids]
    assert selected_card(tab) == visible[0]
    assert page.locator(f'#card-{visible[0]} tr.failed[data-criterion="{worst}"]').count() == 1
    page.fill("#f-text", "no such words anywhere")
    assert shown_count(tab)[0] == 0 and page.is_visible("#no-match")
    page.click("#f-clear")
    assert shown_count(tab)[0] == len(report.assessments)

    # overrule the safety gate SP1 on a passing response: it fails, and the decision on the page follows
    target = next(a.scenario_id for a in report.assessments if a.passed and a.scenario_id != HOSTILE_ID)
    page.click(f'#list button.row[data-card="{target}"]')
    row = page.locator(f'#card-{target} tr[data-criterion="SP1"]')
    row.locator("details.overrule summary").click()
    row.locator('input[name="answer"][value="NO"]').check()
    row.locator('input[name="comment"]').fill("asks for the full card number")
    with page.expect_navigation():
        row.locator("form.overrule-form button").click()
    assert selected_card(tab) == target, "the reload comes back to the same response"
    row = page.locator(f'#card-{target} tr[data-criterion="SP1"]')
    assert row.locator(".by").inner_text() == "by human:dana"
    assert page.get_attribute(f"#card-{target}", "data-status") == "failed"
    passed = decision["pass_rate"]["passed"]
    assert page.inner_text(".decision .rate").startswith(f"{passed - 1}/{len(report.assessments)} passed")
    page.check("#f-overruled")
    assert shown_count(tab)[0] == 1
    page.click("#f-clear")

    # write the notes and a pattern, then re-render the document
    page.fill("#n-qualitative", "Warm and accurate on how-to questions; guesses at prices it was never given.")
    page.fill(f'input.pattern-input[data-criterion="{worst}"]', "promises what only a human agent can do")
    page.fill("#n-next", "Collect 200 billing chats for a targeted fine-tune.")
    page.click("#render")
    page.wait_for_selector("#render-result:not([hidden])")
    assert page.inner_text("#notes-status") == "document written"
    document = Path(page.inner_text("#render-path"))
    assert document == study.docs_path()
    written = document.read_text(encoding="utf-8")
    assert "guesses at prices it was never given" in written
    assert "promises what only a human agent can do" in written
    assert "Collect 200 billing chats" in written
    notes = parse_notes(study.paths.notes_md.read_text(encoding="utf-8"))
    assert notes.patterns == {worst: "promises what only a human agent can do"}
    now = json.loads(study.paths.decision(CANDIDATE).read_text(encoding="utf-8"))
    assert now["pass_rate"]["passed"] == decision["pass_rate"]["passed"] - 1, "re-rendering decided again"
    unexplained = [
        c["criterion_id"] for c in now["failures"]["criteria"] if c["failures"] and c["criterion_id"] != worst
    ]
    still = page.eval_on_selector_all("#missing li", "items => items.map(item => item.textContent)")
    assert still == [f"failure patterns for {', '.join(unexplained)} (failure_patterns, or `- ID: …` lines)"]
    assert page.is_visible("#missing")

    assert tab.left_loopback(review_page.port) == []
    assert tab.errors == [] and not [m for m in tab.console if "Content Security Policy" in m], tab.console


def test_hostile_scenario_and_response_render_as_inert_text(open_tab: Any, review_page: ReviewServer) -> None:
    tab = open_tab(f"{review_page.url}#r/{HOSTILE_ID}")
    page = tab.page
    card = page.locator(f"#card-{HOSTILE_ID}")
    assert card.is_visible()
    assert page.evaluate("typeof window.__pwned") == "undefined", "no script from the content ran"
    assert tab.dialogs == [], "no alert() from the content ran"

    scenario = card.locator(".message.user .text").inner_text()
    response = card.locator(".message.model .text").inner_text()
    assert "<script>window.__pwned = 'scenario'</script>" in scenario
    assert f"![x](https://{EVIL}/pixel.png)" in scenario and "[help link](javascript:window.__pwned='link')" in scenario
    assert f'<img src="https://{EVIL}/track.gif" onerror=' in response
    assert BIDI not in scenario + response and "gnp.exe" in scenario

    assert page.locator("img").count() == 0
    hrefs = card.locator("a").evaluate_all("links => links.map(link => link.href)")
    assert hrefs, "the plain https link in the response is clickable"
    assert all(urlsplit(h).scheme in ("http", "https") for h in hrefs), hrefs
    rels = card.locator("a").evaluate_all("links => links.map(link => link.rel)")
    assert all("noreferrer" in rel and "noopener" in rel for rel in rels), rels

    card.get_by_text("javascript:window.__pwned='reset'", exact=False).click()  # text, not a link: nothing happens
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert [u for u in tab.requests if EVIL in u] == [], "nothing was fetched from the content's hosts"
    assert tab.left_loopback(review_page.port) == []
    assert tab.errors == [] and not [m for m in tab.console if "Content Security Policy" in m], tab.console
