"""Which web results speak about which candidate, and the study's log of every result kept.

Search results arrive as pages about "Qwen3-8B vs Llama 3.1 8B", not as facts about a catalog entry. This
module attaches each stored result to the candidates it names — by name or Ollama tag first, by family after —
and quotes the passage around the mention, so the comparison table can cite where a claim came from. The text
stays untrusted data: it is quoted and flagged, never parsed for facts or followed.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from base_model_selector.research import webtext
from base_model_selector.research.catalog import CatalogModel, plain_name
from base_model_selector.research.search import URL_MAX, WebResult
from base_model_selector.study.directory import Study
from base_model_selector.study.untrusted import inert_field

EVIDENCE_PER_CANDIDATE = 5
EXCERPT_MAX = 600
_WINDOW = 220


class EvidenceRef(BaseModel):
    """A web result quoted as evidence about one candidate (untrusted text, never instructions).

    Cleaned on every load, like `WebResult`: candidates.json and comparison.json are files anyone can edit.
    """

    url: Annotated[str, inert_field(URL_MAX)]
    title: Annotated[str, inert_field(webtext.TITLE_MAX)]
    retrieved_at: Annotated[str, inert_field(40)]
    excerpt: Annotated[str, inert_field(EXCERPT_MAX)]
    matched: Annotated[str, inert_field(200)] = Field(
        description="What in the text named the candidate: its name, tag or family"
    )
    flags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _own_flags(self) -> EvidenceRef:
        self.flags = webtext.checked_flags(self.flags, self.title, self.excerpt)
        return self


def _term(text: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in re.split(r"[-\s_]+", text.strip().lower()) if p]
    return re.compile(r"(?<![a-z0-9])" + r"[-\s_]?".join(parts) + r"(?![a-z0-9]|\.\d)", re.IGNORECASE)


def _matchers(m: CatalogModel) -> list[tuple[str, re.Pattern[str]]]:
    names = {plain_name(m.name), m.id, *m.ollama_tags}
    out = [(n, _term(n)) for n in sorted(names) if len(n) >= 4]
    family = plain_name(m.family)
    if len(family) >= 4:
        out.append((f"family {family}", _term(family)))
    return out


def mentions(model: CatalogModel, results: list[WebResult]) -> list[EvidenceRef]:
    """Up to EVIDENCE_PER_CANDIDATE results naming `model`: by name or tag first, then by family."""
    found = [ref for result in results if (ref := _mention(model, result)) is not None]
    found.sort(key=lambda ref: ref.matched.startswith("family "))
    return found[:EVIDENCE_PER_CANDIDATE]


def _mention(m: CatalogModel, result: WebResult) -> EvidenceRef | None:
    short = f"{result.title}\n{result.excerpt}"
    for label, pattern in _matchers(m):
        excerpt = None
        if pattern.search(short):
            excerpt = result.excerpt
        elif result.page_text and (hit := pattern.search(result.page_text)):
            start = max(hit.start() - _WINDOW, 0)
            excerpt = "…" + result.page_text[start : hit.end() + _WINDOW] + "…"
        if excerpt is not None:
            return EvidenceRef(
                url=result.url,
                title=result.title,
                retrieved_at=result.retrieved_at[:10],
                excerpt=excerpt,
                matched=label,
                flags=result.flags,
            )
    return None


def read_evidence(study: Study) -> tuple[list[WebResult], list[str]]:
    """Every stored web result, one per URL (the latest record wins: it may carry the page text).

    Records are cleaned as they load (`WebResult`); one whose URL is not an http(s) URL is skipped and named.
    """
    path = study.paths.evidence
    read = study.read_jsonl(path, WebResult)
    warnings = list(read.warnings)
    by_url: dict[str, WebResult] = {}
    for record in read.records:
        if webtext.canonical_url(record.url) is not None:
            by_url[record.url] = record
    skipped = sum(1 for record in read.records if webtext.canonical_url(record.url) is None)
    if skipped:
        warnings.append(f"{path}: skipped {skipped} results whose URL is not an http(s) URL (an edited file?)")
    return list(by_url.values()), warnings
