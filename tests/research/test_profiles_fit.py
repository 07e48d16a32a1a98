"""Domain profiles, 1–5 star domain fit with a reason per point, overrides, and context-fit arithmetic."""

from __future__ import annotations

import pytest

from base_model_selector.research.catalog import Catalog, CatalogModel, Fact, load_catalog
from base_model_selector.research.fit import context_fit, domain_fit, override_fit
from base_model_selector.research.profiles import PROFILES, get_profile, resolve_profile, tokens
from base_model_selector.study.errors import ConfigError

REQUIRED_PROFILES = {
    "therapeutic",
    "coding",
    "math_logic",
    "creative_writing",
    "factual_qa",
    "customer_support",
    "multilingual",
    "tool_use",
    "summarisation",
    "structured_extraction",
    "general",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def pick(catalog: Catalog, key: str) -> CatalogModel:
    found = catalog.get(key)
    assert found is not None, key
    return found


def synthetic(**changes: object) -> CatalogModel:
    """A clean dense Apache model with base weights, so each test varies one thing."""
    fields: dict[str, object] = {
        "id": "plain-8b",
        "family": "Plain",
        "name": "Plain-8B",
        "params_b": 8.0,
        "architecture": "dense",
        "license": "Apache-2.0",
        "commercial_use": "yes",
        "context_tokens": 32768,
        "focus": [],
        "base_weights": "yes",
        "facts": [Fact(field="license", claim="Apache 2.0", source="https://example.org/card", status="verified")],
    }
    fields.update(changes)
    return CatalogModel.model_validate(fields)


def test_every_required_profile_exists_with_reasons() -> None:
    assert set(PROFILES) >= REQUIRED_PROFILES
    for profile in PROFILES.values():
        assert profile.prefer, profile.key
        for trait in (*profile.prefer, *profile.avoid):
            assert trait.why and trait.label, (profile.key, trait.key)


@pytest.mark.parametrize(
    ("domain", "key"),
    [
        pytest.param("empathetic coaching", "therapeutic", id="empathetic-coaching"),
        pytest.param("grief counselling companion", "therapeutic", id="grief"),
        pytest.param("SQL data analysis assistant", "coding", id="sql"),
        pytest.param("natural language to SQL", "coding", id="sql-beats-language-on-tie"),
        pytest.param("math olympiad tutor", "math_logic", id="math"),
        pytest.param("short story writing", "creative_writing", id="fiction"),
        pytest.param("RAG over internal documentation", "factual_qa", id="rag"),
        pytest.param("customer support agent for refunds", "customer_support", id="support-beats-agent"),
        pytest.param("translate product pages into Japanese", "multilingual", id="translation"),
        pytest.param("agentic workflow automation with MCP tools", "tool_use", id="agents"),
        pytest.param("summarise meeting notes", "summarisation", id="summaries"),
        pytest.param("invoice field extraction to JSON", "structured_extraction", id="extraction"),
        pytest.param("coding", "coding", id="profile-key-verbatim"),
    ],
)
def test_free_text_domain_maps_to_a_profile(domain: str, key: str) -> None:
    match = resolve_profile(domain)
    assert match.profile.key == key
    assert match.matched
    assert match.note == ""


def test_unknown_domain_falls_back_to_general_with_a_note() -> None:
    match = resolve_profile("maritime law")
    assert match.profile.key == "general"
    assert "no domain profile matched 'maritime law'" in match.note


def test_unknown_profile_key_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="use one of: therapeutic, coding"):
        get_profile("empathy")


@pytest.mark.parametrize(
    ("chat_model", "reasoning_model"),
    [
        pytest.param("llama3.1:8b", "deepseek-r1:7b", id="llama-vs-r1-distill"),
        pytest.param("qwen3:8b", "phi4-reasoning:14b", id="qwen3-vs-phi4-reasoning"),
        pytest.param("mistral:7b", "phi4-mini-reasoning", id="mistral-vs-phi4-mini-reasoning"),
        pytest.param("gemma3:12b", "gpt-oss:120b", id="gemma-vs-gpt-oss"),
    ],
)
def test_empathetic_profile_prefers_chat_models_over_reasoning_models(
    catalog: Catalog, chat_model: str, reasoning_model: str
) -> None:
    profile = get_profile("therapeutic")
    chat = domain_fit(pick(catalog, chat_model), profile)
    reasoning = domain_fit(pick(catalog, reasoning_model), profile)
    assert chat.stars > reasoning.stars
    assert "+1 instruction-tuned for dialogue (focus: chat)" in chat.reasons
    assert any(r.startswith("−1 reasoning-tuned") for r in reasoning.reasons)


def test_math_profile_prefers_the_reasoning_model_the_empathy_profile_avoids(catalog: Catalog) -> None:
    r1 = pick(catalog, "deepseek-r1:7b")
    assert domain_fit(r1, get_profile("math_logic")).stars > domain_fit(r1, get_profile("therapeutic")).stars


def test_coding_profile_prefers_code_models(catalog: Catalog) -> None:
    coding = get_profile("coding")
    assert domain_fit(pick(catalog, "qwen3-coder:30b"), coding).reasons[0] == "+1 trained for code (focus: code)"


def test_multilingual_profile_marks_english_first_models_down(catalog: Catalog) -> None:
    profile = get_profile("multilingual")
    zephyr = domain_fit(pick(catalog, "zephyr:7b"), profile)
    gemma = domain_fit(pick(catalog, "gemma3:12b"), profile)
    assert any(r.startswith("−1 English-first") for r in zephyr.reasons)
    assert gemma.stars > zephyr.stars


@pytest.mark.parametrize(
    ("changes", "kwargs", "stars", "reason"),
    [
        pytest.param({}, {}, 3, None, id="neutral-model-scores-three-with-no-reasons"),
        pytest.param({"focus": ["chat"]}, {}, 4, "+1 instruction-tuned for dialogue (focus: chat)", id="chat"),
        pytest.param(
            {"base_weights": "no", "base_weights_note": "instruct only"},
            {},
            2,
            "−1 no base weights published: you can only fine-tune the instruct checkpoint (instruct only)",
            id="no-base-weights",
        ),
        pytest.param(
            {"base_weights": "unknown"},
            {},
            3,
            "±0 base weights not confirmed: check before planning a fine-tune",
            id="unknown-base-weights",
        ),
        pytest.param(
            {"architecture": "hybrid", "architecture_note": "Gated-DeltaNet hybrid: needs support"},
            {},
            2,
            "−1 hybrid architecture: check training stack (Gated-DeltaNet hybrid)",
            id="hybrid",
        ),
        pytest.param(
            {"architecture": "moe", "params_b": 30.5, "active_params_b": 3.3},
            {},
            2,
            "−1 mixture of experts (30.5B total, 3.3B active): all experts must fit in memory for training; "
            "check training stack",
            id="moe",
        ),
        pytest.param(
            {"commercial_use": "conditional", "license_conditions": ["700M MAU cap", "attribution"]},
            {"need_commercial": True},
            2,
            "−1 licence has conditions: 700M MAU cap; attribution",
            id="conditional-licence-commercial",
        ),
        pytest.param(
            {"commercial_use": "conditional", "license_conditions": ["attribution"]},
            {"need_commercial": False},
            3,
            "±0 licence conditions apply even without commercial use: attribution",
            id="conditional-licence-research",
        ),
        pytest.param(
            {"commercial_use": "no", "license_conditions": ["research only"], "focus": ["chat"]},
            {"need_commercial": True},
            1,
            "= 1 licence forbids commercial use: research only",
            id="non-commercial-gate",
        ),
        pytest.param({}, {"min_b": 1, "max_b": 4}, 2, "−1 8B is outside the 1–4B size range", id="too-big"),
        pytest.param({}, {"min_b": 9}, 2, "−1 8B is outside the ≥ 9B size range", id="too-small"),
        pytest.param({}, {"min_b": 8, "max_b": 8}, 3, None, id="size-bounds-inclusive"),
        pytest.param(
            {"context_tokens": 8192},
            {"longest_input_tokens": 12000},
            1,
            "−2 context 8K < longest input 12K",
            id="context-too-short",
        ),
        pytest.param(
            {"context_tokens": None},
            {"longest_input_tokens": 2000},
            3,
            "±0 native context unknown: check the model card",
            id="context-unknown",
        ),
        pytest.param(
            {},
            {"longest_input_tokens": 12000},
            3,
            "±0 longest input 12K > Ollama default 4K: set num_ctx=16384",
            id="needs-num-ctx",
        ),
    ],
)
def test_every_adjustment_gives_a_reason(
    changes: dict[str, object], kwargs: dict[str, object], stars: int, reason: str | None
) -> None:
    fit = domain_fit(synthetic(**changes), get_profile("general"), **kwargs)  # type: ignore[arg-type]
    assert fit.stars == stars
    if reason is None:
        assert fit.reasons == []
    else:
        assert reason in fit.reasons


def test_stars_are_clamped_and_the_clamp_is_explained() -> None:
    worst = synthetic(architecture="hybrid", base_weights="no", context_tokens=4096)
    fit = domain_fit(worst, get_profile("general"), min_b=1, max_b=4, longest_input_tokens=8192)
    assert fit.stars == 1
    assert fit.reasons[-1] == "= 1 (score −2 clamped to 1..5)"


def test_fit_is_deterministic(catalog: Catalog) -> None:
    profile = get_profile("customer_support")
    first = [domain_fit(m, profile, need_commercial=True, longest_input_tokens=6000) for m in catalog.models]
    second = [domain_fit(m, profile, need_commercial=True, longest_input_tokens=6000) for m in catalog.models]
    assert first == second
    assert all(1 <= f.stars <= 5 and f.reasons for f in first)


def test_override_keeps_the_computed_stars_and_reasons(catalog: Catalog) -> None:
    computed = domain_fit(pick(catalog, "deepseek-r1:7b"), get_profile("therapeutic"))
    overridden = override_fit(computed, 4, "baseline transcripts read warm despite the reasoning tuning", by="agent")
    assert overridden.final_stars == 4
    assert (overridden.stars, overridden.reasons) == (computed.stars, computed.reasons)
    assert overridden.model_dump()["override"]["justification"].startswith("baseline transcripts")
    assert computed.override is None
    with pytest.raises(ConfigError, match="needs a justification"):
        override_fit(computed, 4, "  ")


@pytest.mark.parametrize(
    ("native", "turns", "per_message", "need", "fits_native", "fits_default", "num_ctx"),
    [
        pytest.param(32768, 10, 200, 4000, True, True, 4096, id="fits-default"),
        pytest.param(32768, 1, 2048, 4096, True, True, 4096, id="exactly-default-and-power-of-two"),
        pytest.param(32768, 1, 2049, 4098, True, False, 8192, id="one-over-default-doubles"),
        pytest.param(4096, 1, 2048, 4096, True, True, 4096, id="exactly-native"),
        pytest.param(4096, 1, 2049, 4098, False, False, 4096, id="one-over-native-caps-at-native"),
        pytest.param(128000, 200, 200, 80000, True, False, 128000, id="power-of-two-capped-at-128000"),
        pytest.param(131072, 200, 200, 80000, True, False, 131072, id="power-of-two-below-native"),
        pytest.param(None, 30, 200, 12000, None, False, 16384, id="unknown-native-not-capped"),
        pytest.param(32768, 1, 1, 2, True, True, 2, id="tiny-need"),
    ],
)
def test_context_fit_math_at_the_boundaries(
    native: int | None,
    turns: int,
    per_message: int,
    need: int,
    fits_native: bool | None,
    fits_default: bool,
    num_ctx: int,
) -> None:
    fit = context_fit(synthetic(context_tokens=native), turns, tokens_per_message=per_message)
    assert fit.longest_input_tokens == need
    assert (fit.fits_native, fit.fits_default, fit.num_ctx) == (fits_native, fits_default, num_ctx)
    assert fit.ollama_default_ctx == 4096


def test_context_fit_notes_say_what_to_do() -> None:
    assert "options.num_ctx=8192" in context_fit(synthetic(), 10, 300).note
    assert "shorten the conversations" in context_fit(synthetic(context_tokens=4096), 20, 200).note
    assert context_fit(synthetic(), 10, 300, ollama_default_ctx=32768).fits_default


@pytest.mark.parametrize("bad", [{"turns": 0}, {"tokens_per_message": 0}, {"ollama_default_ctx": 0}])
def test_context_fit_rejects_non_positive_inputs(bad: dict[str, int]) -> None:
    args = {"turns": 5, "tokens_per_message": 200, "ollama_default_ctx": 4096, **bad}
    with pytest.raises(ConfigError, match=f"{next(iter(bad))} must be at least 1"):
        context_fit(synthetic(), **args)


@pytest.mark.parametrize(
    ("n", "text"),
    [(900, "900"), (4096, "4K"), (8192, "8K"), (12000, "12K"), (128000, "128K"), (131072, "128K"),
     (262144, "256K"), (1048576, "1M"), (10_000_000, "10M"), (12345, "12.3K")],
)  # fmt: skip
def test_token_counts_read_like_model_cards(n: int, text: str) -> None:
    assert tokens(n) == text
