"""Domain fit (1–5 stars with a reason for every point) and context fit (will the conversations fit?).

The comparison table ranks candidates before anyone spends GPU time; a ranking people can argue with must
show its arithmetic. `domain_fit` is deterministic and every adjustment it makes is written down as a reason,
so an engineer (or an agent) can disagree with one line instead of with a number. When they do, `override_fit`
records their stars and justification next to the computed ones; nothing is overwritten.

Scoring table for `domain_fit` (start at 3, apply every row, clamp to 1..5):

    row                                                   adjustment
    each `prefer` trait of the profile the model has       +weight (1)
    each `avoid` trait of the profile the model has        −weight (1)
    total params outside [min_b, max_b]                    −1
    no base weights published                              −1   (only the instruct checkpoint can be tuned)
    base weights not confirmed                             ±0   (reason asks to check)
    hybrid architecture (Gated-DeltaNet, Mamba-2)          −1   (training-stack support)
    mixture of experts                                     −1   (all experts in memory; stack support)
    need_commercial and licence has conditions             −1
    licence has conditions, commercial use not needed      ±0   (conditions still listed)
    native context < longest input                         −2
    native context unknown, longest input given            ±0
    longest input > Ollama's default runtime context       ±0   (reason gives the num_ctx to set)
    need_commercial and licence forbids commercial use     stars = 1, whatever the rest says

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

from base_model_selector.research.catalog import CatalogModel
from base_model_selector.research.profiles import Profile, Trait, tokens
from base_model_selector.study.errors import ConfigError

OLLAMA_DEFAULT_CTX = 4096
"""Ollama's default runtime context below 24 GiB VRAM (see the module docstring for the source)."""
START_STARS = 3


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


def domain_fit(
    model: CatalogModel,
    profile: Profile,
    *,
    min_b: float | None = None,
    max_b: float | None = None,
    need_commercial: bool = False,
    longest_input_tokens: int | None = None,
    ollama_default_ctx: int = OLLAMA_DEFAULT_CTX,
) -> Fit:
    """Stars 1..5 for `model` in `profile`'s domain, with one reason per adjustment (see the module table)."""
    score = START_STARS
    reasons: list[str] = []

    def adjust(delta: int, text: str) -> None:
        nonlocal score
        score += delta
        reasons.append(f"{_signed(delta)} {text}")

    for trait, sign in [(t, 1) for t in profile.prefer] + [(t, -1) for t in profile.avoid]:
        evidence = trait.evidence(model)
        if evidence is not None:
            adjust(sign * trait.weight, _trait_reason(trait, evidence))

    if (min_b is not None and model.params_b < min_b) or (max_b is not None and model.params_b > max_b):
        adjust(-1, f"{model.params_b:g}B is outside the {_range(min_b, max_b)} size range")

    if model.base_weights == "no":
        adjust(
            -1,
            "no base weights published: you can only fine-tune the instruct checkpoint"
            + _note(model.base_weights_note),
        )
    elif model.base_weights == "unknown":
        adjust(0, "base weights not confirmed: check before planning a fine-tune")

    if model.architecture == "hybrid":
        adjust(-1, "hybrid architecture: check training stack" + _note(model.architecture_note.split(": ")[0]))
    elif model.architecture == "moe":
        active = f", {model.active_params_b:g}B active" if model.active_params_b else ""
        adjust(
            -1,
            f"mixture of experts ({model.params_b:g}B total{active}): all experts must fit in memory "
            "for training; check training stack",
        )

    conditions = "; ".join(model.license_conditions) or model.license
    if model.commercial_use == "conditional":
        if need_commercial:
            adjust(-1, f"licence has conditions: {conditions}")
        else:
            adjust(0, f"licence conditions apply even without commercial use: {conditions}")

    if longest_input_tokens is not None:
        native = model.context_tokens
        if native is None:
            adjust(0, "native context unknown: check the model card")
        elif native < longest_input_tokens:
            adjust(-2, f"context {tokens(native)} < longest input {tokens(longest_input_tokens)}")
        if longest_input_tokens > ollama_default_ctx and (native is None or native >= longest_input_tokens):
            num_ctx = _num_ctx(longest_input_tokens, native)
            adjust(
                0,
                f"longest input {tokens(longest_input_tokens)} > Ollama default {tokens(ollama_default_ctx)}"
                f": set num_ctx={num_ctx}",
            )

    stars = max(1, min(5, score))
    if model.commercial_use == "no" and need_commercial:
        stars = 1
        reasons.append(f"= 1 licence forbids commercial use: {conditions}")
    elif stars != score:
        reasons.append(f"= {stars} (score {str(score).replace('-', '−')} clamped to 1..5)")
    return Fit(model_id=model.id, profile=profile.key, stars=stars, reasons=reasons)


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


def _trait_reason(trait: Trait, evidence: str) -> str:
    return f"{trait.label} ({evidence})"


def _note(note: str) -> str:
    return f" ({note})" if note else ""


def _range(min_b: float | None, max_b: float | None) -> str:
    low = f"{min_b:g}" if min_b is not None else "0"
    return f"{low}–{max_b:g}B" if max_b is not None else f"≥ {low}B"
