"""Shared pytest fixtures.

`fake_ollama` / `fake_openai` give each test its own fake model server on a free 127.0.0.1 port,
started before and stopped after the test, so backend code runs against the real client
libraries without a GPU or network. Tests that need non-default settings construct
`FakeOllama(...)` / `FakeOpenAI(...)` themselves, as context managers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes import FakeOllama, FakeOpenAI
from review_fixture import review_page, reviewed, reviewed_template  # noqa: F401 - shared fixtures


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """A started `FakeOllama` with `DEFAULT_MODELS` present and `DEFAULT_PULLABLE` pullable."""
    with FakeOllama() as server:
        yield server
    assert not server.errors, f"FakeOllama raised inside: {server.errors!r}"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started `FakeOpenAI` serving the model ``qwen3-8b``."""
    with FakeOpenAI() as server:
        yield server
    assert not server.errors, f"FakeOpenAI raised inside: {server.errors!r}"
