"""Step 1: the candidate set is exhaustive for the study, scored with reasons, flagged, and backed by evidence."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from base_model_selector.research.candidates import CandidateSet, research_candidates
from base_model_selector.research.catalog import CatalogModel, load_catalog
from base_model_selector.research.search import UNAVAILABLE_NOTE, WebSearch
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.errors import ConfigError
from fakes.search import FakeDDGS, RecordingSleep, load_fixture

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def study(tmp_path: Path) -> Study:
    init_study(tmp_path / "s", domain="empathetic coaching", size_min=7, size_max=10, commercial_use=True)
    return Study.open(tmp_path / "s")


def web_for(study: Study, fake: FakeDDGS) -> WebSearch:
    return WebSearch(
        study.config.research, study.paths.search_cache, searcher=fake, sleep=RecordingSleep(), clock=lambda: NOW
    )


def research(study: Study, fake: FakeDDGS | None = None, **kwargs: object) -> CandidateSet:
    web = web_for(study, fake or FakeDDGS("empathetic_coaching.json"))
    return asyncio.run(research_candidates(study, web=web, **kwargs))  # type: ignore[arg-type]


def new_entry(**overrides: object) -> dict:
    entry = {
        "id": "coachlm-8b",
        "family": "CoachLM",
        "name": "CoachLM-8B",
        "params_b": 8.0,
        "architecture": "dense",
        "license": "Apache-2.0",
        "commercial_use": "yes",
        "context_tokens": 32768,
        "released": "2026-09",
        "focus": ["chat", "coaching"],
        "ollama_tags": ["coachlm:8b"],
        "base_weights": "no",
        "base_weights_note": "a fine-tune of Qwen3-8B-Base",
        "facts": [
            {
                "field": "license",
                "claim": "Apache-2.0",
                "source": "https://huggingface.co/example/CoachLM-8B",
                "source_kind": "primary (model card)",
                "status": "verified",
            }
        ],
    }
    entry.update(overrides)
    return entry


def test_empathetic_coaching_7_to_10b_commercial_lists_every_matching_catalog_model(study: Study) -> None:
    result = research(study)
    expected = {m.id for m in load_catalog().query(min_b=7, max_b=10, commercial=True)}
    assert {c.id for c in result.candidates} == expected and len(expected) >= 10
    assert result.profile == "therapeutic"
    for cand in result.candidates:
        assert 1 <= cand.fit.stars <= 5 and cand.fit.reasons, cand.id
    by_id = {c.id: c for c in result.candidates}
    assert any(f.startswith("licence conditions: 700M") for f in by_id["llama-3.1-8b-instruct"].flags)
    assert any(f.startswith("no base weights published") for f in by_id["deepseek-r1-distill-qwen-7b"].flags)
    forbidden = {m.id for m in load_catalog().query(min_b=7, max_b=10) if m.commercial_use == "no"}
    assert {e.id for e in result.excluded} == forbidden and "ministral-8b-instruct-2410" in forbidden
    stored = CandidateSet.model_validate_json(study.paths.candidates.read_text(encoding="utf-8"))
    assert [c.id for c in stored.candidates] == [c.id for c in result.candidates]
    overall = [c.score.overall for c in result.candidates[1:]]
    assert overall == sorted(overall, reverse=True), "ranked by the overall score after the first row"
    assert result.candidates[0].model.ollama_tags, "the first row can be pulled"


def test_web_results_are_attached_to_the_candidates_they_name(study: Study) -> None:
    by_id = {c.id: c for c in research(study).candidates}
    qwen = by_id["qwen3-8b"].evidence
    assert qwen and qwen[0].url == "https://llm-reviews.example.com/best-small-models-coaching-2026"
    assert qwen[0].matched == "Qwen3-8B" and qwen[0].retrieved_at == "2026-11-27"
    assert any(
        e.url == "https://blog.example.org/granite-3-3-8b-review" for e in by_id["granite-3.3-8b-instruct"].evidence
    )
    assert not any("granite" in e.url for e in by_id["qwen3-8b"].evidence)
    assert all(len(c.evidence) <= 5 for c in by_id.values())


def test_a_blocked_search_still_produces_the_candidates_with_a_note(study: Study) -> None:
    script = load_fixture("blocked.json")["scripts"]["always_blocked"]
    result = research(study, FakeDDGS("empathetic_coaching.json", script=script))
    assert len(result.candidates) >= 10 and result.search is not None and not result.search.available
    assert any(n.startswith(UNAVAILABLE_NOTE) for n in result.notes)


def test_research_without_search_makes_no_request(study: Study) -> None:
    fake = FakeDDGS("empathetic_coaching.json")
    result = research(study, fake, search=False)
    assert fake.calls == [] and result.search is None and result.candidates


def test_an_agent_added_candidate_is_stored_with_its_sources_and_listed(study: Study) -> None:
    result = research(study, search=False, add=[CatalogModel.model_validate(new_entry())])
    added = next(c for c in result.candidates if c.id == "coachlm-8b")
    assert added.origin == "added" and added.model.facts[0].source == "https://huggingface.co/example/CoachLM-8B"
    assert "no base weights published (a fine-tune of Qwen3-8B-Base)" in added.flags
    stored = json.loads(study.paths.added_candidates.read_text(encoding="utf-8"))
    assert [m["id"] for m in stored["models"]] == ["coachlm-8b"]
    again = research(study, search=False)
    assert any(c.id == "coachlm-8b" for c in again.candidates), "additions persist across re-runs"


def test_a_candidate_added_outside_the_size_range_is_kept_and_flagged(study: Study) -> None:
    big = CatalogModel.model_validate(new_entry(id="coachlm-70b", name="CoachLM-70B", params_b=70))
    cand = next(c for c in research(study, search=False, add=[big]).candidates if c.id == "coachlm-70b")
    assert "outside the study's range: 70B is 600 % above the 7-10B range" in cand.flags


def test_an_added_candidate_without_a_sourced_fact_is_refused(study: Study) -> None:
    entry = CatalogModel.model_validate(new_entry(facts=[]))
    with pytest.raises(ConfigError, match=r"add\[0\] \(id 'coachlm-8b'\): needs at least one fact with a source"):
        research(study, search=False, add=[entry])
    assert not study.paths.added_candidates.exists()


def test_the_study_catalog_overrides_and_extends_the_shipped_one(study: Study) -> None:
    entry = new_entry(id="qwen3-8b", family="Qwen3", name="Qwen3-8B", commercial_use="conditional",
                      license_conditions=["our legal team's reading"], base_weights="yes")  # fmt: skip
    study.paths.user_catalog.write_text(json.dumps({"models": [entry]}), encoding="utf-8")
    qwen = next(c for c in research(study, search=False).candidates if c.id == "qwen3-8b")
    assert qwen.origin == "study catalog" and "licence conditions: our legal team's reading" in qwen.flags


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("models: [\n  {id: Bad Id}\n", "not valid YAML", id="yaml-syntax"),
        pytest.param("models:\n  - id: x-1\n    family: X\n", r"models\[0\] \(id 'x-1'\)", id="missing-keys"),
        pytest.param("modles: []\n", "unknown top-level key 'modles'", id="typo"),
    ],
)
def test_a_malformed_study_catalog_is_an_error_naming_the_file(study: Study, text: str, message: str) -> None:
    study.paths.user_catalog.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        research(study, search=False)
    assert "catalog.yaml" in str(err.value)


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [
        pytest.param(10, 7, r"size_min_b \(10\) is larger than size_max_b \(7\); swap them", id="inverted"),
        pytest.param(0.01, 0.05, "no catalog model of 0.01-0.05B with a commercial-use licence", id="empty"),
        pytest.param(-1, 5, "min ≥ 0", id="negative"),
    ],
)
def test_a_size_range_that_cannot_match_is_refused_with_the_fix(
    study: Study, low: float, high: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        research(study, search=False, size_min_b=low, size_max_b=high)
    assert not study.paths.candidates.exists()
