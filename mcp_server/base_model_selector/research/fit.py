"""Domain fit (1–5 stars, one sourced reason per point) and context fit (will the conversations fit?).

The comparison table ranks candidates before anyone spends GPU time; a ranking people can argue with must
show its arithmetic, and each point must say where it came from. `domain_fit` counts only the model's curated
traits (`CatalogModel.traits`, each backed by a `trait:<tag>` fact quoting the publisher), as the study's domain
profile weighs them; it never reads prose, so "fully open (data, code, checkpoints)" earns no code point. Licence,
base weights, architecture, context fit and pullability are not domain fit: they are columns of their own, and
`ranking.py` combines everything into the overall score with its formula shown. When someone disagrees with the
stars, `override_fit` records their stars and justification next to the computed ones; nothing is overwritten.

Stars: every candidate starts with one star; each preferred trait it has adds its weight, each avoided trait
subtracts its weight; the result is clamped to 1..5. Every reason names the trait, the publisher's words and the
URL they were read on. A model with no sourced trait the profile values stays at one star, and the reason says so:
an unsourced trait is not given.

Context fit. Ollama does not run a model at its native context: it allocates a runtime window and silently
truncates from the start of the prompt beyond it. Per Ollama's docs (docs.ollama.com/context-length, source
`docs/context-length.mdx` in github.com/ollama/ollama, read 2026-10) the default is 4096 tokens on machines
with < 24 GiB VRAM (32K at 24–48 GiB, 256K at ≥ 48 GiB; an earlier revision of that page stated a flat 4096,
and releases before it used 2048). It is raised for all models with `OLLAMA_CONTEXT_LENGTH` when starting
`ollama serve`, or per model/request with `num_ctx` (Modelfile `PARAMETER num_ctx`, or `options.num_ctx` in
the API); `ollama ps` shows the allocated CONTEXT. We assume 4096, the common laptop/desktop case, unless the
caller knows better, and tell the caller which `num_ctx` to pass.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field

from base_model_selector.research.catalog import CatalogModel, Fact
from base_model_selector.research.profiles import Profile, tokens
from base_model_selector.research.sources import urls_in
from base_model_selector.study.errors import ConfigError

OLLAMA_DEFAULT_CTX = 4096
"""Ollama's default runtime context below 24 GiB VRAM (see the module docstring for the source)."""
START_STARS = 1


class FitOverride(BaseModel):
    """Stars set by a person or an agent, with the reason; kept beside the computed fit, never instead of it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    stars: int = Field(ge=1, le=5)
    justification: str = Field(min_length=1)
    by: str = Field(default="", description="Who overrode: a user name or 'agent'.")


class Fit(BaseModel):
    """A model's computed fit for a domain profile, its reasons, and an optional override."""

    model_id: str
    profile: str
    stars: int = Field(ge=1, le=5, description="Computed stars; see reasons.")
    reasons: list[str]
    override: FitOverride | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def final_stars(self) -> int:
        """The override's stars when there is one, else the computed stars."""
        return self.override.stars if self.override else self.stars


class ContextFit(BaseModel):
    """How the longest expected input compares with a model's native and Ollama's default runtime context."""

    longest_input_tokens: int
    native_context: int | None
    ollama_default_ctx: int
    fits_native: bool | None = Field(description="None when the native context is unknown.")
    fits_default: bool
    num_ctx: int = Field(description="Runtime context to request: next power of two ≥ need, capped at native.")
    note: str


def domain_fit(model: CatalogModel, profile: Profile) -> Fit:
    """Stars 1..5 for `model` in `profile`'s domain from its sourced traits, with one reason per point."""
    score = START_STARS
    reasons = [f"{START_STARS} base star: every candidate starts with one"]
    for trait, sign in [(t, 1) for t in profile.prefer] + [(t, -1) for t in profile.avoid]:
        fact = trait.evidence(model)
        if fact is not None:
            score += sign * trait.weight
            reasons.append(f"{_signed(sign * trait.weight)} {trait.label} — {source_note(fact)}")
    if len(reasons) == 1:
        reasons.append(
            "±0 no sourced trait this domain values (traits not yet sourced or absent: check the model card)"
        )
    stars = max(1, min(5, score))
    if stars != score:
        reasons.append(f"= {stars} (score {str(score).replace('-', '−')} clamped to 1..5)")
    return Fit(model_id=model.id, profile=profile.key, stars=stars, reasons=reasons)


def source_note(fact: Fact) -> str:
    """'trait code: Qwen3 README: "..." (https://...)': what a point rests on, short enough for a table."""
    claim = fact.claim if len(fact.claim) <= 140 else fact.claim[:139].rstrip() + "…"
    url = (urls_in(fact.source) or [fact.source or ""])[0]
    status = "" if fact.status == "verified" else f", {fact.status}"
    return f"{fact.field.replace(':', ' ')}: {claim} ({url}{status})"


def stars_text(stars: int) -> str:
    """'★★★☆☆': the one way a fit is drawn, in summaries, the comparison table and the decision document."""
    return "★" * stars + "☆" * (5 - stars)


def override_fit(fit: Fit, stars: int, justification: str, *, by: str = "") -> Fit:
    """A copy of `fit` carrying an override; computed stars and reasons stay as they were."""
    if not justification.strip():
        raise ConfigError(
            f"overriding the fit of {fit.model_id} needs a justification: say why {stars} stars, "
            "e.g. 'baseline transcripts show warm replies despite the reasoning tuning'."
        )
    return fit.model_copy(update={"override": FitOverride(stars=stars, justification=justification, by=by)})


def context_fit(
    model: CatalogModel,
    turns: int,
    tokens_per_message: int = 200,
    ollama_default_ctx: int = OLLAMA_DEFAULT_CTX,
) -> ContextFit:
    """Does a conversation of `turns` exchanges fit? Longest input = turns × 2 × tokens_per_message.

    `num_ctx` is the next power of two ≥ that need, capped at the native context when it is known.
    """
    for name, value in (
        ("turns", turns),
        ("tokens_per_message", tokens_per_message),
        ("ollama_default_ctx", ollama_default_ctx),
    ):
        if value < 1:
            raise ConfigError(f"context fit for {model.id}: {name} must be at least 1, got {value}.")
    need = turns * 2 * tokens_per_message
    native = model.context_tokens
    fits_native = None if native is None else need <= native
    fits_default = need <= ollama_default_ctx
    num_ctx = _num_ctx(need, native)
    if fits_native is False:
        note = (
            f"{turns} turns need ~{tokens(need)} tokens but {model.id} handles {tokens(native or 0)}: "
            "shorten the conversations or pick a longer-context model"
        )
    elif fits_default:
        note = f"~{tokens(need)} tokens fit Ollama's default {tokens(ollama_default_ctx)} runtime context"
    else:
        unknown = " (native context unknown: check the model card)" if native is None else ""
        note = (
            f"~{tokens(need)} tokens exceed Ollama's default {tokens(ollama_default_ctx)}: pass "
            f"options.num_ctx={num_ctx} or set OLLAMA_CONTEXT_LENGTH{unknown}"
        )
    return ContextFit(
        longest_input_tokens=need,
        native_context=native,
        ollama_default_ctx=ollama_default_ctx,
        fits_native=fits_native,
        fits_default=fits_default,
        num_ctx=num_ctx,
        note=note,
    )


def _num_ctx(need: int, native: int | None) -> int:
    power = 1 << max(0, need - 1).bit_length()
    return min(power, native) if native is not None else power


def _signed(delta: int) -> str:
    return "±0" if delta == 0 else f"+{delta}" if delta > 0 else f"−{-delta}"
