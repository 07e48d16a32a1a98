"""A scenario, a response and a judge's reasoning full of Markdown, HTML, script, `javascript:` links, a remote
image and bidi characters reach the decision document, its HTML copy and the MCP results only as inert text."""

from __future__ import annotations

from pathlib import Path

import pytest

from base_model_selector.decision.decide import decide
from base_model_selector.decision.report import write_decision_doc
from base_model_selector.study.directory import Study
from decision_fixture import MODEL, STAMP, write_study
from shells import run_tool
from untrusted_text import ATTACK, assert_inert_html, assert_inert_markdown, assert_no_unsafe_characters

NOTES = "Replies echo ![pixel](https://evil.example/n.png), <img src=x onerror=alert(1)> and [x](javascript:alert(1))."


@pytest.fixture
def hostile(tmp_path: Path) -> Study:
    study = Study.open(write_study(tmp_path / "support", quoted=" " + ATTACK))
    decide(study, MODEL, decided_at=STAMP)
    return study


def test_hostile_scenario_response_and_reasoning_render_inert_in_the_markdown_document(hostile: Study) -> None:
    write_decision_doc(hostile, MODEL, qualitative_notes=NOTES, failure_patterns={"CQ1": ATTACK}, today="2025-01-03")
    text = hostile.docs_path().read_text(encoding="utf-8")
    assert_inert_markdown(text)
    assert "https://evil.example/pixel.png" in text, "the text is quoted, as text, not dropped"
    assert "safe txt.exe" in text, "the right-to-left override is gone, the words around it stay"


def test_hostile_text_renders_inert_in_the_html_copy_which_loads_nothing(hostile: Study) -> None:
    result = write_decision_doc(hostile, MODEL, html=True, qualitative_notes=NOTES, today="2025-01-03")
    assert result.html_path is not None
    html = Path(result.html_path).read_text(encoding="utf-8")
    assert_inert_html(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "[image: pixel]" not in html.split("Qualitative")[0]
    assert "![pixel](https://evil.example/n.png)" in html, "an image in the notes is shown as its Markdown text"


def test_decide_over_mcp_returns_the_quoted_text_without_control_or_bidi_characters(hostile: Study) -> None:
    result = run_tool("decide", {"study": str(hostile.root), "model": MODEL})
    assert not result.is_error
    assert_no_unsafe_characters(result.structured_content)
    assert "evil.example/pixel.png" in str(result.structured_content)
