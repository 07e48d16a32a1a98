"""A study ready for the review page: an example evaluated end to end against the loopback Ollama, plus one
scenario (and the model's reply to it) full of what a web page must never interpret.

The study is built once per test session (about two seconds) and copied for each test, because tests write to
it: notes, human verdicts, the re-rendered document. `review_page` serves the copy on 127.0.0.1 and stops it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from base_model_selector.evaluate import evaluate
from base_model_selector.review.server import ReviewServer
from base_model_selector.study.directory import Study
from base_model_selector.study.types import Scenario
from evaluate_fixture import CANDIDATE, prepared_study, scripted
from fakes import FakeOllama
from untrusted_text import ATTACK

REVIEWER = "dana"
EVIL = "evil.example"
BIDI = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "gnp.exe" shows as "exe.png"
HOSTILE_ID = "hostile-1"
HOSTILE_SCENARIO = (
    "My invoice page shows <script>window.__pwned = 'scenario'</script> and "
    f"![x](https://{EVIL}/pixel.png) and a [help link](javascript:window.__pwned='link') "
    f"next to {BIDI}gnp.exe — what is it?"
)
HOSTILE_RESPONSE = (
    "That text is not ours. <script>window.__pwned = 'response'</script> "
    f'<img src="https://{EVIL}/track.gif" onerror="window.__pwned=\'img\'"> '
    f"![y](https://{EVIL}/beacon.png) [reset it here](javascript:window.__pwned='reset') "
    f"{BIDI}fdp.exe — read https://example.org/help for the real steps.\n    indented line\n" + ATTACK
)


def responder(request: dict[str, Any]) -> Any:
    """`scripted`, except that the model under test answers the hostile scenario with a hostile reply."""
    messages = request["messages"]
    answering = not isinstance(request.get("format"), dict) and messages[0]["role"] == "system"
    if answering and "<script>" in messages[-1]["content"]:
        return HOSTILE_RESPONSE
    return scripted(request)


def build_reviewed_study(root: Path, n: int = 6) -> Path:
    """Evaluate the customer-support example (n scenarios), then add the hostile scenario as if a file carried it."""
    with FakeOllama() as server:
        server.responder = responder
        study = prepared_study(root, server.url, n=n)
        first = asyncio.run(evaluate(study, CANDIDATE))
        assert first.complete, first.summary()
        taxonomy = yaml.safe_load(study.paths.taxonomy_yaml.read_text(encoding="utf-8"))
        topic = taxonomy["topics"][0]["name"]
        hostile = Scenario(id=HOSTILE_ID, text=HOSTILE_SCENARIO, topic=topic, origin="file")
        study.append(study.paths.scenarios, [hostile])
        second = asyncio.run(evaluate(study, CANDIDATE))
        assert second.complete, second.summary()
        assert not server.errors, server.errors
    return root


@pytest.fixture(scope="session")
def reviewed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_reviewed_study(tmp_path_factory.mktemp("reviewed") / "customer-support")


@pytest.fixture
def reviewed(tmp_path: Path, reviewed_template: Path) -> Study:
    """A fresh copy of the reviewed study for one test."""
    return Study.open(shutil.copytree(reviewed_template, tmp_path / "customer-support"))


@pytest.fixture
def review_page(reviewed: Study) -> Iterator[ReviewServer]:
    """The review page of `reviewed`, served on 127.0.0.1 for one test."""
    page = ReviewServer(reviewed, CANDIDATE, reviewer=REVIEWER)
    page.start()
    try:
        yield page
    finally:
        page.stop()
