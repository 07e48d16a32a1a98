"""The shipped catalog: every raw fact kept with its status, the README's flags visible, queries and user files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from base_model_selector.research.catalog import (
    FACT_STATUSES,
    INFERENCE_KIND,
    NOTE_KIND,
    Catalog,
    CatalogModel,
    load_catalog,
    shipped_catalog,
)
from base_model_selector.study.errors import ConfigError

RAW = Path(__file__).resolve().parents[2] / "scripts" / "data" / "model-facts.jsonl"
RAW_ROWS = [json.loads(line) for line in RAW.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def model(catalog: Catalog, key: str) -> CatalogModel:
    found = catalog.get(key)
    assert found is not None, f"{key} missing from the catalog"
    return found


def test_catalog_lists_every_raw_model_as_of_2026_12(catalog: Catalog) -> None:
    assert len(catalog.models) == len(RAW_ROWS) >= 90
    assert catalog.as_of == "2026-12"
    assert len(set(catalog.ids())) == len(RAW_ROWS)


@pytest.mark.parametrize(
    "key",
    ["qwen2.5:7b", "qwen2.5:14b", "gemma2:9b", "llama3.2:3b", "qwen2.5-coder:1.5b", "qwen2.5-coder:7b", "phi4"],
)
def test_the_families_the_method_names_and_the_code_specialists_are_in_the_catalog(catalog: Catalog, key: str) -> None:
    assert catalog.get(key) is not None


def test_every_trait_rests_on_a_sourced_fact_and_prose_is_not_a_trait(catalog: Catalog) -> None:
    for m in catalog.models:
        for tag in m.traits:
            fact = m.trait_fact(tag)
            assert fact is not None and fact.status == "verified" and fact.source, (m.id, tag)
    assert model(catalog, "olmo-2-1124-7b").traits == [], "'fully open (data, code, checkpoints)' is not a trait"
    assert "code" in model(catalog, "qwen2.5-coder:7b").traits


def test_a_trait_without_a_sourced_fact_is_refused() -> None:
    with pytest.raises(ValueError, match="trait 'code' needs a fact with a source"):
        CatalogModel.model_validate(_entry(traits=["code"]))


def test_granite_3_3_2b_tag_is_not_listed_under_the_8b_model(catalog: Catalog) -> None:
    assert "granite3.3:2b" not in model(catalog, "granite-3.3-8b-instruct").ollama_tags
    assert model(catalog, "granite3.3:2b").id == "granite-3.3-2b-instruct"


def test_only_tags_a_library_page_confirmed_count_as_verified(catalog: Catalog) -> None:
    for m in catalog.models:
        assert set(m.ollama_tags_verified) <= set(m.ollama_tags), m.id
    assert model(catalog, "qwen3:8b").ollama_tags_verified == ["qwen3:8b"]
    assert model(catalog, "llama3.1:8b").ollama_tags_verified == [], "no library page was read for llama3.1"


def test_every_fact_keeps_a_source_and_status(catalog: Catalog) -> None:
    for m in catalog.models:
        assert any(f.has_source for f in m.facts), f"{m.id} has no sourced fact"
        for fact in m.facts:
            assert fact.status in FACT_STATUSES
            if not fact.has_source:
                assert fact.source_kind in {NOTE_KIND, INFERENCE_KIND}, (m.id, fact)
                assert fact.status == "unverified", (m.id, fact)


def test_every_raw_source_is_kept_and_inferences_are_marked(catalog: Catalog) -> None:
    kinds = Counter(f.source_kind == INFERENCE_KIND for m in catalog.models for f in m.facts)
    assert kinds[False] == sum(len(row["sources"]) for row in RAW_ROWS)
    for m in catalog.models:
        assert m.facts_for("architecture"), f"{m.id}: architecture inference not recorded"
        assert m.facts_for("base_weights"), f"{m.id}: base-weights inference not recorded"


def test_conflicting_context_claims_stay_visible(catalog: Catalog) -> None:
    conflicts = {m.id for m in catalog.models for f in m.facts_for("context_tokens") if f.status == "conflict"}
    assert {"qwen3-0.6b", "granite-4.0-h-tiny", "granite-4.0-h-small", "phi-4"} <= conflicts


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("phi4", id="phi-4"),
        pytest.param("phi4-mini", id="phi-4-mini"),
        pytest.param("qwen3:32b", id="qwen3-32b"),
        pytest.param("llama3.3", id="llama-3.3"),
        pytest.param("granite-4.2-8b", id="granite-4.2"),
    ],
)
def test_families_without_base_weights_are_flagged(catalog: Catalog, key: str) -> None:
    m = model(catalog, key)
    assert m.base_weights == "no"
    assert m.base_weights_note


@pytest.mark.parametrize(
    ("key", "base"),
    [
        pytest.param("llama3.1:8b", "yes", id="llama-3.1-has-base"),
        pytest.param("mistral-small3.1", "yes", id="mistral-small-3.1-has-base"),
        pytest.param("olmo-3-32b-think", "yes", id="olmo-3-32b-has-base"),
        pytest.param("qwen3.5-27b", "unknown", id="unchecked-is-unknown-not-yes"),
    ],
)
def test_base_weights_where_known(catalog: Catalog, key: str, base: str) -> None:
    assert model(catalog, key).base_weights == base


@pytest.mark.parametrize(
    "key", ["llama3.1:8b", "llama3.2:1b", "llama3.3:70b", "llama4:scout", "deepseek-r1-distill-llama-8b"]
)
def test_llama_licence_conditions_are_listed(catalog: Catalog, key: str) -> None:
    m = model(catalog, key)
    assert m.commercial_use == "conditional"
    text = " ".join(m.license_conditions)
    for must in ("700M", "Built with Llama", "start with 'Llama'"):
        assert must in text, (key, must)


def test_multimodal_llama_4_excludes_the_eu(catalog: Catalog) -> None:
    assert any("EU" in c for c in model(catalog, "llama4:scout").license_conditions)
    assert not any("EU" in c for c in model(catalog, "llama3.2:3b").license_conditions)


def test_ministral_8b_2410_is_not_commercial(catalog: Catalog) -> None:
    m = model(catalog, "ministral-8b-instruct-2410")
    assert m.commercial_use == "no"
    assert "research" in m.license_conditions[0].lower()
    assert m not in catalog.query(commercial=True)


@pytest.mark.parametrize(
    ("key", "commercial"),
    [
        pytest.param("gemma3:12b", "conditional", id="gemma-3-terms"),
        pytest.param("gemma4:31b", "yes", id="gemma-4-apache"),
        pytest.param("nemotron-3-nano:30b", "conditional", id="nvidia-open-model-license"),
        pytest.param("deepseek-r1:7b", "yes", id="qwen-distill-mit"),
    ],
)
def test_custom_licences_are_conditional(catalog: Catalog, key: str, commercial: str) -> None:
    m = model(catalog, key)
    assert m.commercial_use == commercial
    assert bool(m.license_conditions) == (commercial == "conditional")


@pytest.mark.parametrize(
    ("key", "architecture", "active"),
    [
        pytest.param("qwen3.5:9b", "hybrid", None, id="qwen3.5-gated-deltanet"),
        pytest.param("qwen3.6:35b", "hybrid", 3.0, id="qwen3.6-hybrid-moe"),
        pytest.param("granite4:tiny-h", "hybrid", 1.0, id="granite-4.0-h-mamba"),
        pytest.param("nemotron-3-nano:30b", "hybrid", 3.2, id="nemotron-3-mamba"),
        pytest.param("gpt-oss:20b", "moe", 3.6, id="gpt-oss-moe"),
        pytest.param("llama4:scout", "moe", 17.0, id="llama-4-moe"),
        pytest.param("granite4:micro", "dense", None, id="granite-micro-dense"),
        pytest.param("qwen3:8b", "dense", None, id="qwen3-dense"),
    ],
)
def test_hybrid_and_moe_architectures_are_flagged(
    catalog: Catalog, key: str, architecture: str, active: float | None
) -> None:
    m = model(catalog, key)
    assert (m.architecture, m.active_params_b) == (architecture, active)
    if architecture == "hybrid":
        assert "training stack" in m.architecture_note


@pytest.mark.parametrize(
    ("key", "expected_id"),
    [
        pytest.param("deepseek-r1:8b", "deepseek-r1-0528-qwen3-8b", id="deepseek-r1-8b-is-the-0528-distill"),
        pytest.param("qwen3:4b", "qwen3-4b-instruct-2507", id="qwen3-4b-serves-2507"),
        pytest.param("qwen3:30b", "qwen3-30b-a3b-instruct-2507", id="qwen3-30b-serves-2507"),
        pytest.param("llama3.1:latest", "llama-3.1-8b-instruct", id="latest-suffix"),
        pytest.param("gemma3", "gemma-3-4b-it", id="bare-default-tag"),
        pytest.param("Qwen3-8B", "qwen3-8b", id="name-case-insensitive"),
        pytest.param("Phi-4-reasoning", "phi-4-reasoning", id="name-without-parenthetical"),
    ],
)
def test_get_resolves_ids_names_and_moving_tags(catalog: Catalog, key: str, expected_id: str) -> None:
    assert model(catalog, key).id == expected_id


def test_get_returns_none_for_an_unknown_model(catalog: Catalog) -> None:
    assert catalog.get("no-such-model:1b") is None


def test_every_ollama_tag_belongs_to_one_model(catalog: Catalog) -> None:
    tags = Counter(t for m in catalog.models for t in m.ollama_tags)
    assert [t for t, n in tags.items() if n > 1] == []
    assert all(" " not in t for t in tags)


@pytest.mark.parametrize(
    ("filters", "expect_in", "expect_out"),
    [
        pytest.param(
            {"min_b": 7, "max_b": 9, "commercial": True, "min_context": 65_536},
            {"qwen3.5-9b", "llama-3.1-8b-instruct"},
            {"ministral-8b-instruct-2410", "olmo-2-1124-7b", "qwen3.5-4b", "phi-4"},
            id="size-commercial-context",
        ),
        pytest.param({"focus": "CODE"}, {"qwen3-coder-30b-a3b-instruct"}, {"qwen3-8b"}, id="focus-substring"),
        pytest.param({"family": "qwen3.5"}, {"qwen3.5-0.8b", "qwen3.5-27b"}, {"qwen3-8b"}, id="family-substring"),
        pytest.param({"min_context": 1}, {"qwen3-8b"}, {"granite-4.2-8b"}, id="unknown-context-excluded"),
        pytest.param({"commercial": False}, {"ministral-8b-instruct-2410"}, set(), id="false-means-no-filter"),
    ],
)
def test_query_by_size_range_commercial_and_context(
    catalog: Catalog, filters: dict[str, object], expect_in: set[str], expect_out: set[str]
) -> None:
    found = {m.id for m in catalog.query(**filters)}  # type: ignore[arg-type]
    assert expect_in <= found
    assert not (expect_out & found)


def test_query_bounds_are_inclusive(catalog: Catalog) -> None:
    assert {m.params_b for m in catalog.query(min_b=8.0, max_b=8.0)} == {8.0}


def test_shipped_catalog_is_parsed_once() -> None:
    assert shipped_catalog() is shipped_catalog()
    assert load_catalog() is shipped_catalog()


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "qwen3-8b",
        "family": "Qwen3",
        "name": "Qwen3-8B (our mirror)",
        "params_b": 8.2,
        "architecture": "dense",
        "license": "Apache-2.0",
        "commercial_use": "yes",
        "context_tokens": 32768,
        "ollama_tags": ["registry.local/qwen3:8b"],
        "facts": [
            {
                "field": "license",
                "claim": "Apache 2.0",
                "source": "https://huggingface.co/Qwen/Qwen3-8B",
                "source_kind": "primary (model card)",
                "status": "verified",
            }
        ],
    }
    entry.update(changes)
    return entry


def test_user_catalog_overrides_entry_and_requires_a_source(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    new = _entry(id="acme-7b", name="Acme-7B", family="Acme", ollama_tags=["acme:7b"])
    path.write_text(json.dumps({"models": [_entry(), new]}), encoding="utf-8")

    merged = load_catalog(path)

    assert len(merged.models) == len(RAW_ROWS) + 1
    assert merged.ids().index("qwen3-8b") == shipped_catalog().ids().index("qwen3-8b")
    assert model(merged, "qwen3-8b").name == "Qwen3-8B (our mirror)"
    assert model(merged, "acme:7b").id == "acme-7b"
    assert model(shipped_catalog(), "qwen3-8b").name == "Qwen3-8B"

    path.write_text(json.dumps([_entry(facts=[])]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\[0\] \(id 'qwen3-8b'\): facts: .*at least one fact with a source"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "models:\n  - id: acme-7b\n    family: Acme\n    name: Acme\n    parms_b: 7\n",
            r"catalog\.yaml: models\[0\] \(id 'acme-7b'\): parms_b \(line 5\): unknown key",
            id="typo-key-with-line",
        ),
        pytest.param(
            "- id: Acme 7B\n",
            r"models\[0\] \(id 'Acme 7B'\): id .*lowercase slug",
            id="bad-slug",
        ),
        pytest.param(
            "- id: acme-7b\n  released: July 2025\n",
            r"released .*YYYY-MM",
            id="bad-month",
        ),
        pytest.param("modles: []\n", r"catalog\.yaml: unknown top-level key 'modles'", id="typo-top-level"),
        pytest.param("models: [oops\n", r"catalog\.yaml.*not valid YAML", id="broken-yaml"),
    ],
)
def test_malformed_user_catalog_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalog(path)


def test_user_catalog_rejects_duplicate_ids_and_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([_entry(), _entry()]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\[1\].*appears twice"):
        load_catalog(path)
    toml = tmp_path / "catalog.toml"
    toml.write_text("[models]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"must end in \.yaml, \.yml or \.json"):
        load_catalog(toml)


def test_shipped_catalog_is_regenerated_from_the_raw_facts_in_the_repo() -> None:
    """A hand edit of data/catalog.json, or a raw-facts change without a rebuild, fails here."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "build_catalog.py"),
            str(root / "scripts" / "data" / "model-facts.jsonl"),
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
