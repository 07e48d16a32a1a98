"""What the review page shows and writes, over plain HTTP: the decision, every response, inert text, the notes.

The page must say exactly what the files say (it is a view, not a second source of truth) and write only through
the core: notes.md merged, never overwritten, the document re-rendered by the same code as `write-doc`.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from markupsafe import Markup

from base_model_selector.decision.decide import Decision
from base_model_selector.decision.notes import parse_notes
from base_model_selector.evaluate import evaluate
from base_model_selector.review import text
from base_model_selector.review.server import ReviewServer
from base_model_selector.study.directory import Study
from base_model_selector.study.types import AssessmentReport, SelectedModel, Selection
from evaluate_fixture import CANDIDATE
from fakes import FakeOllama
from review_fixture import BIDI, EVIL, HOSTILE_ID, responder
from untrusted_text import assert_no_unsafe_characters


def origin(page: ReviewServer) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{page.port}"}


def decided(study: Study) -> Decision:
    return Decision.model_validate_json(study.paths.decision(CANDIDATE).read_text(encoding="utf-8"))


def test_the_page_shows_the_decision_the_files_support_and_every_response(review_page: ReviewServer) -> None:
    html = httpx.get(review_page.url).text
    study = review_page.study
    decision = decided(study)
    rate = decision.pass_rate
    assert f"{rate.passed}/{rate.assessed} passed" in html
    assert decision.verdict.label in html
    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text(encoding="utf-8"))
    for assessment in report.assessments:
        card = re.search(rf'<article class="card" id="card-{re.escape(assessment.scenario_id)}"[^>]*>', html)
        assert card, assessment.scenario_id
        assert f'data-status="{"passed" if assessment.passed else "failed"}"' in card.group(0)
        assert f'data-failed="{" ".join(assessment.failed_criteria)}"' in card.group(0)
    assert html.count('<article class="card"') == len(report.assessments)
    svg = re.search(r'<svg class="chart interval".*?</svg>', html, re.S)
    assert svg and ">50%<" in svg.group(0) and ">70%<" in svg.group(0), "thresholds drawn on the interval chart"
    for criterion in decision.failures.criteria:
        assert f'data-criterion="{criterion.criterion_id}"' in html


def test_scenario_response_and_reasoning_are_escaped_and_only_http_links_are_links(review_page: ReviewServer) -> None:
    html = httpx.get(review_page.url).text
    card = re.search(rf'<article class="card" id="card-{HOSTILE_ID}".*?</article>', html, re.S)
    assert card, "the hostile scenario has a card"
    body = card.group(0)
    assert "<script" not in body and "&lt;script&gt;" in body
    assert "<img" not in body and "&lt;img" in body
    assert BIDI not in html
    hrefs = re.findall(r'href="([^"]*)"', body)
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs), hrefs
    assert not [h for h in hrefs if "javascript" in h.lower()]
    assert '<a href="https://example.org/help" rel="noopener noreferrer nofollow" target="_blank">' in body
    assert "data:text" not in "".join(hrefs) and "\n    indented line" in body, "indentation is kept"
    assert_no_unsafe_characters(html)
    assert f'![x](<a href="https://{EVIL}/pixel.png"' in body, "an image in Markdown stays text and a plain link"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("<b>hi</b>", "&lt;b&gt;hi&lt;/b&gt;", id="html"),
        pytest.param("[x](javascript:alert(1))", "[x](javascript:alert(1))", id="javascript-link"),
        pytest.param("see https://a.example/x.", 'see <a href="https://a.example/x" rel', id="trailing-dot"),
        pytest.param("(https://a.example/x)", '(<a href="https://a.example/x" rel', id="in-parentheses"),
        pytest.param("https://user@evil.example/", "https://user@evil.example/", id="user-info-not-linked"),
        pytest.param("ftp://files.example/x", "ftp://files.example/x", id="other-scheme"),
        pytest.param('https://a.example/"onmouseover="x', 'https://a.example/" rel', id="attribute-breakout"),
        pytest.param(f"a{BIDI}b\u200bc\x1b[31m", "a b c [31m", id="bidi-zero-width-escape"),
    ],
)
def test_linked_text_is_inert(given: str, expected: str) -> None:
    out = text.linked(given)
    assert isinstance(out, Markup)
    assert expected in str(out)
    assert all(href.startswith(("http://", "https://")) for href in re.findall(r'href="([^"]*)"', str(out)))


def test_saving_notes_keeps_what_the_person_wrote_by_hand(review_page: ReviewServer) -> None:
    notes_md = review_page.study.paths.notes_md
    notes_md.write_text(
        "# Review of the Ledgerly assistant\nWritten by hand: keep me.\n\n## Failure patterns\n- AC1: old pattern\n\n"
        "## Our own section\nalso mine\n",
        encoding="utf-8",
    )
    body = {
        "qualitative": "Warm and accurate; guesses prices.",
        "patterns": {"RS1": "promises refunds", "AC1": ""},
        "base": {"patterns": {"AC1": "old pattern", "RS1": ""}},
    }
    response = httpx.post(review_page.url + "api/notes", json=body, headers=origin(review_page))
    assert response.status_code == 200, response.text
    saved = notes_md.read_text(encoding="utf-8")
    assert "Written by hand: keep me." in saved and "## Our own section\nalso mine" in saved
    notes = parse_notes(saved)
    assert notes.qualitative == "Warm and accurate; guesses prices."
    assert notes.patterns == {"RS1": "promises refunds"}, "an emptied pattern is removed"


def test_a_notes_save_over_an_edit_made_meanwhile_is_refused_and_changes_nothing(review_page: ReviewServer) -> None:
    notes_md = review_page.study.paths.notes_md
    notes_md.write_text("## Qualitative notes\nEdited in the editor after the page loaded.\n", encoding="utf-8")
    body = {"qualitative": "From the page", "base": {"qualitative": ""}}
    response = httpx.post(review_page.url + "api/notes", json=body, headers=origin(review_page))
    assert response.status_code == 409
    assert "qualitative notes changed on disk" in response.json()["error"]
    assert "Edited in the editor" in notes_md.read_text(encoding="utf-8")


def test_a_write_while_another_process_holds_the_study_is_refused_with_the_holder(review_page: ReviewServer) -> None:
    study = review_page.study
    with study.locked("assess gemma3:270m"):
        response = httpx.post(review_page.url + "api/notes", json={"qualitative": "x"}, headers=origin(review_page))
    assert response.status_code == 409
    assert "busy" in response.json()["error"] and "assess gemma3:270m" in response.json()["error"]
    assert not study.paths.notes_md.exists()


def test_rerender_writes_the_document_with_the_notes_and_says_what_is_missing(review_page: ReviewServer) -> None:
    study = review_page.study
    failing = [c.criterion_id for c in decided(study).failures.criteria if c.failures]
    body = {"qualitative": "Reads like our best agent.", "patterns": {failing[0]: "quotes the wrong plan"}}
    assert httpx.post(review_page.url + "api/notes", json=body, headers=origin(review_page)).status_code == 200
    response = httpx.post(review_page.url + "api/render", json={"model": CANDIDATE}, headers=origin(review_page))
    assert response.status_code == 200, response.text
    result = response.json()
    document = Path(result["path"]).read_text(encoding="utf-8")
    assert "Reads like our best agent." in document and "quotes the wrong plan" in document
    assert result["missing"] == (
        [f"failure patterns for {', '.join(failing[1:])} (failure_patterns, or `- ID: …` lines)"] if failing[1:] else []
    )


def test_rerender_refuses_a_model_the_page_does_not_review(review_page: ReviewServer) -> None:
    response = httpx.post(review_page.url + "api/render", json={"model": "../../etc"}, headers=origin(review_page))
    assert response.status_code == 404
    assert "not one this page reviews" in response.json()["error"]


def test_the_backup_model_when_run_is_shown_side_by_side(reviewed: Study) -> None:
    backup = "llama3.1:8b"
    with FakeOllama() as server:
        server.responder = responder
        _point_at(reviewed, server.url)
        assert asyncio.run(evaluate(Study.open(reviewed.root), backup)).complete
    reviewed.paths.selection.write_text(
        Selection(
            primary=SelectedModel(candidate_id="gemma-3-270m", name="Gemma 3 270M", ollama_tag=CANDIDATE),
            backup=SelectedModel(candidate_id="llama-3.1-8b", name="Llama 3.1 8B", ollama_tag=backup),
        ).model_dump_json(),
        encoding="utf-8",
    )
    page = ReviewServer(Study.open(reviewed.root))
    page.start()
    try:
        html = httpx.get(page.url).text
        backup_html = httpx.get(page.url, params={"model": backup}).text
        unknown = httpx.get(page.url, params={"model": "other:1b"})
    finally:
        page.stop()
    svg = re.search(r'<svg class="chart interval".*?</svg>', html, re.S)
    assert svg and f"{CANDIDATE} (primary)" in svg.group(0) and f"{backup} (backup)" in svg.group(0)
    assert 'table class="runs"' in html
    backup_decision = json.loads(reviewed.paths.decision(backup).read_text(encoding="utf-8"))
    assert f'data-model="{backup}"' in backup_html
    assert f"{backup_decision['pass_rate']['passed']}/{backup_decision['pass_rate']['assessed']} passed" in backup_html
    assert unknown.status_code == 404


def _point_at(study: Study, url: str) -> None:
    text_ = study.paths.study_yaml.read_text(encoding="utf-8")
    study.paths.study_yaml.write_text(re.sub(r'hosts: \["[^"]*"\]', f'hosts: ["{url}"]', text_), encoding="utf-8")


def _item(study: Study, *, passed: bool, criterion: str) -> tuple[str, str]:
    """(scenario ID, item ID) of a response that passed (or failed) and its item for `criterion`."""
    from base_model_selector.judging.results import item_table

    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text(encoding="utf-8"))
    scenario = next(a.scenario_id for a in report.assessments if a.passed == passed and a.scenario_id != HOSTILE_ID)
    row = next(r for r in item_table(study, CANDIDATE) if (r.scenario_id, r.criterion_id) == (scenario, criterion))
    return scenario, row.item_id


def _overrule(page: ReviewServer, item_id: str, answer: str, comment: str = "") -> httpx.Response:
    body = {"model": CANDIDATE, "item_id": item_id, "answer": answer, "comment": comment}
    return httpx.post(page.url + "api/overrule", json=body, headers=origin(page))


def test_an_overrule_is_a_human_verdict_and_the_scores_decision_and_agreement_follow(review_page: ReviewServer) -> None:
    study = review_page.study
    before = decided(study).pass_rate
    verdicts_before = study.paths.verdicts(CANDIDATE).read_bytes()
    scenario, item_id = _item(study, passed=True, criterion="SP1")  # a safety gate: NO fails the response

    response = _overrule(review_page, item_id, "NO", "asks for the card number to 'verify' the account")
    assert response.status_code == 200, response.text
    assert response.json()["judge"] == "human:dana" and response.json()["overridden"] == 1

    lines = study.paths.verdicts(CANDIDATE).read_bytes()
    assert lines.startswith(verdicts_before), "append-only: every earlier verdict is kept byte for byte"
    added = json.loads(lines[len(verdicts_before) :])
    assert (added["judge"], added["answer"], added["scenario_id"]) == ("human:dana", "NO", scenario)
    assert added["comment"] == "asks for the card number to 'verify' the account"
    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text(encoding="utf-8"))
    assert not next(a for a in report.assessments if a.scenario_id == scenario).passed

    html = httpx.get(review_page.url).text
    card = re.search(rf'<article class="card" id="card-{scenario}".*?</article>', html, re.S)
    assert card and 'data-status="failed"' in card.group(0) and 'data-overruled="1"' in card.group(0)
    assert "by human:dana" in card.group(0) and "Overruled: <code>llm:" in card.group(0)
    assert f"{before.passed - 1}/{before.assessed} passed" in html, "the decision on the page follows"
    assert "<code>human:dana</code>" in re.search(r'<table class="agreement">.*?</table>', html, re.S).group(0)


def test_na_is_refused_where_the_rubric_forbids_it_and_nothing_is_recorded(review_page: ReviewServer) -> None:
    study = review_page.study
    before = study.paths.verdicts(CANDIDATE).read_bytes()
    _, item_id = _item(study, passed=True, criterion="TN1")  # na_invalid in the example rubric
    response = _overrule(review_page, item_id, "NA")
    assert response.status_code == 400
    assert "NA refused for criterion TN1" in response.json()["error"]
    assert study.paths.verdicts(CANDIDATE).read_bytes() == before
    html = httpx.get(review_page.url).text
    assert re.search(rf'data-item="{re.escape(item_id)}">.*?value="NA" disabled', html, re.S), "NA is not offered"


def test_two_tabs_overruling_one_item_keep_both_verdicts_and_the_later_wins_shown_as_such(
    review_page: ReviewServer,
) -> None:
    study = review_page.study
    scenario, item_id = _item(study, passed=True, criterion="AC1")
    tabs = [("NO", "first tab"), ("YES", "second tab"), ("YES", "third tab, within the same second")]
    for answer, comment in tabs:
        assert _overrule(review_page, item_id, answer, comment).status_code == 200
    people = [
        json.loads(line)
        for line in study.paths.verdicts(CANDIDATE).read_text(encoding="utf-8").splitlines()
        if '"human:dana"' in line
    ]
    assert [(v["answer"], v["comment"]) for v in people] == tabs
    report = AssessmentReport.model_validate_json(study.paths.assessments(CANDIDATE).read_text(encoding="utf-8"))
    assert next(a for a in report.assessments if a.scenario_id == scenario).answers["AC1"].value == "YES"
    html = httpx.get(review_page.url).text
    card = re.search(rf'<article class="card" id="card-{scenario}".*?</article>', html, re.S).group(0)
    row = re.search(r'<tr class="[^"]*" data-criterion="AC1">.*?</tr>', card, re.S).group(0)
    history = re.findall(r'<li class="(\w+)"><code>([^<]+)</code> <span class="answer a-(\w+)">', row)
    assert history[-3:] == [
        ("superseded", "human:dana", "NO"),
        ("superseded", "human:dana", "YES"),
        ("counts", "human:dana", "YES"),
    ]
    assert re.search(r'<div class="reasoning text">third tab, within the same second</div>', row)


def test_an_overrule_of_an_unknown_item_or_while_the_study_is_busy_is_refused(review_page: ReviewServer) -> None:
    study = review_page.study
    unknown = _overrule(review_page, "s-000:AC1:deadbeef", "NO")
    assert unknown.status_code == 400 and "unknown item_id" in unknown.json()["error"]
    _, item_id = _item(study, passed=True, criterion="AC1")
    with study.locked("assess gemma3:270m"):
        busy = _overrule(review_page, item_id, "NO")
    assert busy.status_code == 409 and "busy" in busy.json()["error"]
    assert '"human:' not in study.paths.verdicts(CANDIDATE).read_text(encoding="utf-8")


def test_a_broken_rubric_is_one_clear_message_on_the_page_not_a_crash(review_page: ReviewServer) -> None:
    rubric = review_page.study.paths.rubric_yaml
    rubric.write_text(rubric.read_text(encoding="utf-8").replace("categories:", "categoriez:", 1), encoding="utf-8")
    response = httpx.get(review_page.url)
    assert response.status_code == 409
    assert "rubric.yaml" in response.text and "reload" in response.text


def test_judge_errors_and_truncated_responses_are_marked_for_their_filters(tmp_path: Path) -> None:
    """The decision tests' study has a judge ERROR (sc-10) and a reply cut at num_predict (sc-07)."""
    from decision_fixture import write_study

    study = Study.open(write_study(tmp_path / "support"))
    page = ReviewServer(study, reviewer="dana")
    page.start()
    try:
        html = httpx.get(page.url).text
    finally:
        page.stop()
    cards = dict(re.findall(r'<article class="card" id="card-([^"]+)"([^>]*)>', html))
    assert {sid for sid, attrs in cards.items() if 'data-error="1"' in attrs} == {"sc-10"}
    assert {sid for sid, attrs in cards.items() if 'data-truncated="1"' in attrs} == {"sc-07"}
    assert 'class="answer a-ERROR">ERROR<' in html
