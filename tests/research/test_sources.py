"""Only primary sources make a fact verified: the allow-list, and the shipped catalog checked against it."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from base_model_selector.research.candidates import research_candidates
from base_model_selector.research.catalog import Catalog, CatalogModel, Fact, load_catalog
from base_model_selector.research.compare import build_comparison_table, read_table
from base_model_selector.research.sources import (
    cites_only_primary,
    is_primary,
    non_primary_verified,
    primary_fields,
    urls_in,
)
from base_model_selector.study.directory import Study
from example_studies import copy_example


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.mark.parametrize(
    "url",
    [
        "https://huggingface.co/Qwen/Qwen3-8B",
        "https://huggingface.co/microsoft/Phi-4-mini-instruct",
        "https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/MODEL_CARD.md",
        "https://github.com/QwenLM/Qwen3/blob/main/README.md",
        "https://github.com/ibm-granite/granite-4.0-language-models",
        "https://ai.google.dev/gemma/docs/capabilities/text/chat?hl=ar",
        "https://ollama.com/library/qwen3:8b",
        "https://ollama.com/search?q=Gemma+2+9B",
        "https://github.com/ollama/ollama/issues/10496",
        "https://www.huggingface.co/Qwen/Qwen3-8B",
    ],
)
def test_publisher_pages_and_the_ollama_library_are_primary(url: str) -> None:
    assert is_primary(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://hff.sound2gd.work/Qwen/Qwen3-8B", id="hf-mirror"),
        pytest.param("https://fast.hugflare.com/Qwen/Qwen3.5-9B", id="typo-mirror"),
        pytest.param("https://worker-huggingface.example.workers.dev/Qwen/Qwen3-8B", id="workers-dev"),
        pytest.param("https://hf-cdn.pages.dev/mistralai/Mistral-7B-Instruct-v0.3", id="pages-dev"),
        pytest.param("https://h.likeai.space/HuggingFaceH4/zephyr-7b-beta", id="likeai"),
        pytest.param("https://apxml.com/models/phi-4", id="apxml"),
        pytest.param("https://aiwiki.ai/wiki/qwen2_5_coder", id="wiki"),
        pytest.param("https://www.fitmyllm.com/phi-4", id="fitmyllm"),
        pytest.param("https://huggingface.co/unsloth/granite-4.0-micro", id="hf-but-not-the-publisher"),
        pytest.param("https://huggingface.co/Qwenfake/Qwen3-8B", id="lookalike-org"),
        pytest.param("https://huggingface.co.evil.example/Qwen/Qwen3-8B", id="lookalike-host"),
        pytest.param("https://openrouter.ai/qwen/qwen3.5-9b", id="aggregator"),
        pytest.param("https://ollama.com/huihui_ai/phi4-mini-abliterated", id="ollama-user-upload"),
        pytest.param("ftp://huggingface.co/Qwen/Qwen3-8B", id="not-http"),
        pytest.param("Third-party catalog derived from the Ollama library", id="no-url"),
    ],
)
def test_mirrors_aggregators_and_lookalikes_are_never_primary(url: str) -> None:
    assert not is_primary(url)
    assert not cites_only_primary(url)


def test_a_fact_citing_a_mirror_next_to_a_primary_page_is_not_primary() -> None:
    both = "https://huggingface.co/Qwen/Qwen3-8B ; https://hff.sound2gd.work/Qwen/Qwen3-8B"
    assert urls_in(both) == ["https://huggingface.co/Qwen/Qwen3-8B", "https://hff.sound2gd.work/Qwen/Qwen3-8B"]
    assert not cites_only_primary(both)


def test_every_verified_fact_in_the_shipped_catalog_cites_only_primary_sources(catalog: Catalog) -> None:
    offenders = [(m.id, f.field, f.source) for m in catalog.models for f in non_primary_verified(m)]
    assert offenders == []
    assert sum(len(primary_fields(m)) for m in catalog.models) > 200, "the catalog rests on primary evidence"


def test_every_known_issue_and_trait_cites_a_primary_source(catalog: Catalog) -> None:
    for m in catalog.models:
        for issue in m.known_issues:
            assert cites_only_primary(issue.source), (m.id, issue)
        for tag in m.traits:
            fact = m.trait_fact(tag)
            assert fact is not None and cites_only_primary(fact.source), (m.id, tag)


def test_a_user_entry_claiming_verified_from_a_mirror_is_flagged_not_counted() -> None:
    entry = CatalogModel.model_validate(
        {
            "id": "acme-7b",
            "family": "Acme",
            "name": "Acme-7B",
            "params_b": 7,
            "architecture": "dense",
            "license": "Apache-2.0",
            "commercial_use": "yes",
            "facts": [
                Fact(field="license", claim="Apache-2.0", source="https://apxml.com/acme-7b", status="verified"),
                Fact(field="params_b", claim="7B", source="https://huggingface.co/google/acme-7b", status="verified"),
            ],
        }
    )
    assert [f.field for f in non_primary_verified(entry)] == ["license"]
    assert primary_fields(entry) == {"params_b"}


def test_the_sources_column_lists_primary_pages_and_keeps_the_others_apart(tmp_path: Path) -> None:
    study = Study.open(copy_example("sql-analyst", tmp_path / "sql"))
    asyncio.run(research_candidates(study, search=False, today=date(2026, 12, 2)))
    build_comparison_table(study)
    table = read_table(study)
    assert table is not None
    for row in [*table.rows, *table.near_range]:
        assert all(is_primary(u) for u in row.sources), row.id
        assert not any(is_primary(u) for u in row.secondary_sources), row.id
    full = study.paths.comparison_md.read_text(encoding="utf-8")
    assert "Secondary sources (cited by secondary or unverified facts, never counted as evidence)" in full
