"""Stand-ins at the web boundary: a `DDGS` that replays recorded results, and a page fetcher that serves files.

Both are passed to the code under test through its constructor seams (`WebSearch(searcher=..., fetcher=...)`,
`build_server(searcher=...)`), so no test monkeypatches our code and none reaches the network. Failures are
raised as the real ddgs exception classes, with the messages ddgs uses, so the degradation path is the one that
runs in production.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"
_ERRORS = {e.__name__: e for e in (DDGSException, RatelimitException, TimeoutException)}


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class FakeDDGS:
    """`DDGS.text` over a fixture: `results[query]` or `default`; an optional script of steps comes first.

    A script step is `{"raise": "<ddgs exception class>", "message": ...}` or `{"return": "default"}`; once the
    script is used up, answers come from the fixture. Every call is recorded in `calls` as (query, kwargs).
    """

    def __init__(self, fixture: str | dict[str, Any], script: list[dict[str, str]] | None = None):
        self.data = load_fixture(fixture) if isinstance(fixture, str) else fixture
        self.script = list(script or [])
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((query, kwargs))
        if self.script:
            step = self.script.pop(0)
            if "raise" in step:
                raise _ERRORS[step["raise"]](step["message"])
        results = self.data.get("results", {}).get(query, self.data.get("default", []))
        return [dict(r) for r in results]


class FakeFetcher:
    """`PageFetcher` serving canned HTML per URL; an unknown URL fails as an unreachable page would."""

    def __init__(self, pages: dict[str, str]):
        self.pages = pages
        self.calls: list[str] = []

    def fetch(self, url: str) -> str:
        self.calls.append(url)
        if url not in self.pages:
            raise ConnectionError(f"cannot reach {url}")
        return self.pages[url]


class RecordingSleep:
    """An async `sleep` that records the delays asked for and returns at once (backoff without waiting)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
