"""Domain profiles, 1–5 star domain fit with a reason per point, overrides, and context-fit arithmetic."""

from __future__ import annotations

import pytest

from base_model_selector.research.catalog import Catalog, CatalogModel, Fact, load_catalog
from base_model_selector.research.fit import context_fit, domain_fit, override_fit
from base_model_selector.research.profiles import PROFILES, get_profile, resolve_profile, tokens
from base_model_selector.study.errors import ConfigError
from catalog_entries import synthetic_model

REQUIRED_PROFILES = {
    "therapeutic",
    "coding",
    "sql",
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


def test_every_required_profile_exists_with_reasons_and_reaches_five_stars() -> None:
    assert set(PROFILES) >= REQUIRED_PROFILES
    for profile in PROFILES.values():
        assert profile.prefer, profile.key
        assert sum(t.weight for t in profile.prefer) == 4, f"{profile.key}: preferred weights must add up to 4"
        for trait in (*profile.prefer, *profile.avoid):
            assert trait.why and trait.label and trait.tags, (profile.key, trait.key)


@pytest.mark.parametrize(
    ("domain", "key"),
    [
        pytest.param("empathetic coaching", "therapeutic", id="empathetic-coaching"),
        pytest.param("grief counselling companion", "therapeutic", id="grief"),
        pytest.param("SQL data analysis", "sql", id="sql-analyst-example"),
        pytest.param("natural language to SQL", "sql", id="sql-beats-language-on-tie"),
        pytest.param("python coding assistant", "coding", id="coding"),
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
    with pytest.raises(ConfigError, match="use one of: therapeutic, sql, coding"):
        get_profile("empathy")


@pytest.mark.parametrize(
    ("chat_model", "reasoning_model"),
    [
        pytest.param("llama3.1:8b", "deepseek-r1:7b", id="llama-vs-r1-distill"),
        pytest.param("qwen3:8b", "phi4-reasoning:14b", id="qwen3-vs-phi4-reasoning"),
        pytest.param("gemma3:12b", "gpt-oss:120b", id="gemma-vs-gpt-oss"),
    ],
)
def test_empathetic_profile_prefers_dialogue_tuned_models_over_reasoning_first_ones(
    catalog: Catalog, chat_model: str, reasoning_model: str
) -> None:
    profile = get_profile("therapeutic")
    chat = domain_fit(pick(catalog, chat_model), profile)
    reasoning = domain_fit(pick(catalog, reasoning_model), profile)
    assert chat.stars > reasoning.stars
    assert any(r.startswith("+2 tuned for dialogue or role-play — trait roleplay-chat: ") for r in chat.reasons)
    assert any(r.startswith("−1 reasoning-tuned without dialogue") for r in reasoning.reasons)


def test_math_profile_prefers_the_reasoning_model_the_empathy_profile_avoids(catalog: Catalog) -> None:
    r1 = pick(catalog, "deepseek-r1:7b")
    assert domain_fit(r1, get_profile("math_logic")).stars > domain_fit(r1, get_profile("therapeutic")).stars


def test_coding_profile_prefers_code_models(catalog: Catalog) -> None:
    fit = domain_fit(pick(catalog, "qwen2.5-coder:7b"), get_profile("coding"))
    assert fit.reasons[1].startswith("+3 trained for code — trait code: Qwen2.5-Coder card")
    assert "(https://huggingface.co/Qwen/Qwen2.5-Coder-7B-Instruct)" in fit.reasons[1]


def test_sql_profile_values_text_to_sql_evaluation_above_general_code_training(catalog: Catalog) -> None:
    sql = get_profile("sql")
    coder = domain_fit(pick(catalog, "qwen2.5-coder:7b"), sql)
    general = domain_fit(pick(catalog, "qwen3:8b"), sql)
    assert coder.stars > general.stars
    assert any(r.startswith("+2 evaluated on text-to-SQL") for r in coder.reasons)


def test_multilingual_profile_counts_multilingual_training(catalog: Catalog) -> None:
    profile = get_profile("multilingual")
    assert domain_fit(pick(catalog, "llama3.1:8b"), profile).stars > domain_fit(pick(catalog, "mistral"), profile).stars


def test_olmo_fully_open_data_code_checkpoints_earns_no_code_point(catalog: Catalog) -> None:
    """Regression: the description "fully open (data, code, checkpoints)" once earned "+1 trained for code"."""
    olmo = pick(catalog, "olmo-2-1124-7b")
    assert any("code" in item for item in olmo.focus), "the prose that used to mislead is still there"
    for key in ("sql", "coding"):
        fit = domain_fit(olmo, get_profile(key))
        assert fit.stars == 1
        assert not any("code" in r for r in fit.reasons), fit.reasons


def test_prose_never_earns_a_point_only_sourced_traits_do() -> None:
    prose = synthetic_model(focus=["code", "chat", "SQL"], facts=[
        Fact(field="notes", claim="great at code and SQL", source="https://huggingface.co/Qwen/x", status="verified")
    ])  # fmt: skip
    fit = domain_fit(prose, get_profile("sql"))
    assert fit.stars == 1
    assert fit.reasons[-1].startswith("±0 no sourced trait this domain values")
    traited = domain_fit(synthetic_model(("sql", "code")), get_profile("sql"))
    assert traited.stars == 4


def test_every_point_names_its_source(catalog: Catalog) -> None:
    for profile in PROFILES.values():
        for m in catalog.models:
            fit = domain_fit(m, profile)
            assert fit.reasons[0] == "1 base star: every candidate starts with one"
            points = [r for r in fit.reasons if r[:1] in "+−"]
            assert all(" — trait " in r and "(http" in r for r in points), (m.id, profile.key, points)
            assert 1 + sum(int(r.split()[0].replace("−", "-")) for r in points) == fit.stars or fit.reasons[
                -1
            ].startswith("= ")


@pytest.mark.parametrize(
    ("traits", "profile", "stars", "last"),
    [
        pytest.param((), "therapeutic", 1, "±0 no sourced trait", id="no-traits-one-star"),
        pytest.param(("roleplay-chat",), "therapeutic", 3, "+2 tuned for dialogue", id="dialogue-weighs-two"),
        pytest.param(
            ("roleplay-chat", "instruction-following", "safety-tuned"), "therapeutic", 5, "+1 safety tuning", id="all"
        ),
        pytest.param(("reasoning", "code"), "therapeutic", 1, "= 1 (score −1 clamped to 1..5)", id="clamped"),
        pytest.param(("code", "tool-use"), "coding", 5, "+1 trained for tool use", id="coding-max"),
    ],
)
def test_stars_add_the_weights_of_the_sourced_traits(
    traits: tuple[str, ...], profile: str, stars: int, last: str
) -> None:
    fit = domain_fit(synthetic_model(traits), get_profile(profile))
    assert fit.stars == stars
    assert fit.reasons[-1].startswith(last)


def test_fit_is_deterministic(catalog: Catalog) -> None:
    profile = get_profile("customer_support")
    first = [domain_fit(m, profile) for m in catalog.models]
    second = [domain_fit(m, profile) for m in catalog.models]
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
    fit = context_fit(synthetic_model(context_tokens=native), turns, tokens_per_message=per_message)
    assert fit.longest_input_tokens == need
    assert (fit.fits_native, fit.fits_default, fit.num_ctx) == (fits_native, fits_default, num_ctx)
    assert fit.ollama_default_ctx == 4096


def test_context_fit_notes_say_what_to_do() -> None:
    assert "options.num_ctx=8192" in context_fit(synthetic_model(), 10, 300).note
    assert "shorten the conversations" in context_fit(synthetic_model(context_tokens=4096), 20, 200).note
    assert context_fit(synthetic_model(), 10, 300, ollama_default_ctx=32768).fits_default


@pytest.mark.parametrize("bad", [{"turns": 0}, {"tokens_per_message": 0}, {"ollama_default_ctx": 0}])
def test_context_fit_rejects_non_positive_inputs(bad: dict[str, int]) -> None:
    args = {"turns": 5, "tokens_per_message": 200, "ollama_default_ctx": 4096, **bad}
    with pytest.raises(ConfigError, match=f"{next(iter(bad))} must be at least 1"):
        context_fit(synthetic_model(), **args)


@pytest.mark.parametrize(
    ("n", "text"),
    [(900, "900"), (4096, "4K"), (8192, "8K"), (12000, "12K"), (128000, "128K"), (131072, "128K"),
     (262144, "256K"), (1048576, "1M"), (10_000_000, "10M"), (12345, "12.3K")],
)  # fmt: skip
def test_token_counts_read_like_model_cards(n: int, text: str) -> None:
    assert tokens(n) == text
