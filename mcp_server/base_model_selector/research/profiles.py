"""Domain profiles: which of a model's curated traits matter for a kind of work, and why.

Stars for "domain fit" must come from what the publisher says a model was trained for, never from words that
happen to appear in a description ("fully open (data, code, checkpoints)" is not code training). Every catalog
model carries `traits` from a closed vocabulary, each backed by a `trait:<tag>` fact with its source
(`catalog.TRAITS`); a profile names the traits to prefer (with a weight) and to avoid for a domain, and why.
`fit.domain_fit` turns them into stars, one sourced reason per point. `resolve_profile` maps a study's free-text
domain ("empathetic coaching", "SQL data analysis assistant") to a profile by keywords, falling back to `general`
with a note.

Each profile's preferred weights add up to 4, so a model with every preferred trait reaches 5 stars from the one
star every candidate starts with, and the stars of different domains read alike.

The profiles are Python data rather than a shipped YAML file: they change only with code review, mypy checks
them, nothing is parsed at start-up, and a second file format would need its own loader and error messages for
no user benefit (studies adjust judgement through their rubric, and an agent can override stars with a
justification, see `fit.FitOverride`).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from base_model_selector.research.catalog import TRAITS, CatalogModel, Fact
from base_model_selector.study.errors import ConfigError


class Trait(BaseModel):
    """A property that counts for or against a model in a domain: a catalog trait tag (or several), with why.

    A model has it when it carries ANY of `tags` and none of `unless` (e.g. "reasoning without dialogue tuning":
    tags ("reasoning",), unless ("roleplay-chat", "instruction-following")).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    label: str = Field(description="Short phrase used in fit reasons, e.g. 'tuned for dialogue or role-play'.")
    why: str
    tags: tuple[str, ...]
    unless: tuple[str, ...] = ()
    weight: int = 1

    def evidence(self, model: CatalogModel) -> Fact | None:
        """The sourced fact that gives `model` this trait, or None when it does not have it."""
        if any(tag in model.traits for tag in self.unless):
            return None
        for tag in self.tags:
            fact = model.trait_fact(tag)
            if fact is not None:
                return fact
        return None


class Profile(BaseModel):
    """A kind of work, the keywords that name it, and the traits to prefer and avoid."""

    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    keywords: tuple[str, ...] = Field(description="Word prefixes matched at word starts in a free-text domain.")
    prefer: tuple[Trait, ...]
    avoid: tuple[Trait, ...] = ()


class ProfileMatch(BaseModel):
    """The profile chosen for a free-text domain, the keywords that chose it, and a note when it is a guess."""

    profile: Profile
    matched: list[str]
    note: str = ""


def _kw(spec: str) -> tuple[str, ...]:
    """Keywords written compactly as 'a|b|c' (multi-word phrases allowed)."""
    return tuple(spec.split("|"))


def tokens(n: int) -> str:
    """Compact token count: 8192 → '8K', 131072 and 128000 → '128K', 1048576 → '1M', 12345 → '12.3K'."""
    for unit, size in (("M", 1_000_000), ("M", 1_048_576), ("K", 1000), ("K", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    if n >= 1000:
        return f"{n / 1000:.1f}K"
    return str(n)


def _t(key: str, label: str, why: str, weight: int = 1, *, tags: tuple[str, ...] = (), unless: tuple[str, ...] = ()):
    unknown = [t for t in (*tags, *unless) if t not in TRAITS] or ([] if tags else [key])
    if unknown:
        raise ValueError(f"profile trait {key!r}: {unknown[0]!r} is not in the trait vocabulary {TRAITS}")
    return Trait(key=key, label=label, why=why, weight=weight, tags=tags, unless=unless)


def _trait(tag: str, weight: int = 1) -> Trait:
    label, why = _ABOUT[tag]
    return _t(tag, label, why, weight, tags=(tag,))


_ABOUT: dict[str, tuple[str, str]] = {
    "roleplay-chat": (
        "tuned for dialogue or role-play",
        "Multi-turn conversation is what chat tuning optimises; a fine-tune then starts from the right register.",
    ),
    "instruction-following": (
        "instruction-following tuning",
        "A product's system prompt is a set of instructions; models tuned to follow them keep to format and rules.",
    ),
    "safety-tuned": (
        "safety tuning",
        "Safety-aligned models refuse and redirect harmful requests, which sensitive domains rely on.",
    ),
    "code": (
        "trained for code",
        "Code-trained models know syntax, libraries and dialects; these are costly to teach by fine-tuning.",
    ),
    "sql": (
        "evaluated on text-to-SQL",
        "A model the publisher evaluates on text-to-SQL (Spider, BIRD) already maps questions to schemas.",
    ),
    "math": ("trained for maths", "Maths-focused training improves multi-step arithmetic and symbolic work."),
    "reasoning": ("reasoning (thinking) mode", "Thinking traces let a model work through multi-step logic."),
    "multilingual": (
        "multilingual training",
        "Language coverage comes from pretraining; fine-tuning cannot cheaply add a language the base lacks.",
    ),
    "tool-use": (
        "trained for tool use",
        "Native function-calling training teaches the call format and schema adherence that agents rely on.",
    ),
    "rag": (
        "tuned for retrieval-augmented answers",
        "RAG-tuned models answer from supplied passages instead of improvising.",
    ),
    "long-context": (
        "long native context",
        "Whole documents, retrieved passages or long traces must fit in the window without chunking.",
    ),
}

REASONING_FIRST = _t(
    "reasoning_first",
    "reasoning-tuned without dialogue or instruction tuning",
    "Reasoning-first models are strong at logic but verbose and analytic in dialogue: they think before every "
    "reply and answer feelings with solutions; thinking blocks also break strict output formats.",
    tags=("reasoning",),
    unless=("roleplay-chat", "instruction-following"),
)
NARROW_SPECIALIST = _t(
    "narrow_specialist",
    "code/maths specialist without dialogue or instruction tuning",
    "Post-training aimed at code or maths trades away conversational warmth and general register.",
    tags=("code", "math", "sql"),
    unless=("roleplay-chat", "instruction-following"),
)

GENERAL = Profile(
    key="general",
    title="General assistant",
    keywords=(),
    prefer=(_trait("instruction-following", 2), _trait("roleplay-chat"), _trait("tool-use")),
)

PROFILES: dict[str, Profile] = {
    p.key: p
    for p in (
        Profile(
            key="therapeutic",
            title="Therapeutic / empathetic conversation",
            keywords=_kw(
                "therap|empath|counsel|coach|mental health|wellbeing|well-being|wellness|emotional|psycholog|"
                "grief|mindful|companion|peer support|active listening|compassion|mood"
            ),
            prefer=(_trait("roleplay-chat", 2), _trait("instruction-following"), _trait("safety-tuned")),
            avoid=(REASONING_FIRST, NARROW_SPECIALIST),
        ),
        Profile(
            key="sql",
            title="SQL / data analysis",
            keywords=_kw(
                "sql|database|query|queries|data analys|analytics|analyst|postgres|mysql|sqlite|warehouse|"
                "text-to-sql|business intelligence|dashboard|dbt"
            ),
            prefer=(_trait("sql", 2), _trait("code"), _trait("instruction-following")),
        ),
        Profile(
            key="coding",
            title="Coding",
            keywords=_kw(
                "code|coding|program|software|developer|python|javascript|typescript|java|rust|debug|"
                "refactor|devops|scripting"
            ),
            prefer=(_trait("code", 3), _trait("tool-use")),
        ),
        Profile(
            key="math_logic",
            title="Math & logic",
            keywords=_kw(
                "math|logic|reasoning|proof|puzzle|arithmetic|algebra|calculus|geometry|stem|physics|theorem|"
                "olympiad|word problem"
            ),
            prefer=(_trait("math", 2), _trait("reasoning", 2)),
        ),
        Profile(
            key="creative_writing",
            title="Creative writing",
            keywords=_kw(
                "creative|fiction|story|stories|storytell|novel|poem|poetry|screenplay|screenwrit|roleplay|"
                "role-play|copywrit|narrative|lyric|writing"
            ),
            prefer=(_trait("roleplay-chat", 2), _trait("instruction-following"), _trait("long-context")),
            avoid=(REASONING_FIRST,),
        ),
        Profile(
            key="factual_qa",
            title="Factual Q&A",
            keywords=_kw(
                "factual|q&a|qa|question answer|questions|trivia|knowledge|rag|retrieval|encyclop|faq|"
                "documentation|research assistant|lookup"
            ),
            prefer=(_trait("rag", 2), _trait("long-context"), _trait("instruction-following")),
        ),
        Profile(
            key="customer_support",
            title="Customer support",
            keywords=_kw(
                "customer|support|helpdesk|help desk|service desk|ticket|call center|call centre|complaint|"
                "refund|troubleshoot|client service"
            ),
            prefer=(_trait("roleplay-chat"), _trait("instruction-following"), _trait("tool-use"), _trait("rag")),
            avoid=(REASONING_FIRST,),
        ),
        Profile(
            key="multilingual",
            title="Multilingual",
            keywords=_kw(
                "multilingual|translat|locali|language|cross-lingual|bilingual|non-english|spanish|french|"
                "german|portuguese|italian|chinese|japanese|korean|arabic|hindi|russian|turkish|dutch|polish"
            ),
            prefer=(_trait("multilingual", 3), _trait("instruction-following")),
        ),
        Profile(
            key="tool_use",
            title="Tool use / agents",
            keywords=_kw(
                "tool|function call|function-call|agent|agentic|api call|workflow|automation|orchestrat|"
                "planner|mcp|browser use"
            ),
            prefer=(_trait("tool-use", 2), _trait("instruction-following"), _trait("long-context")),
        ),
        Profile(
            key="summarisation",
            title="Summarisation",
            keywords=_kw("summar|digest|condens|abstract|tl;dr|tldr|meeting notes|minutes|recap|synops|brief"),
            prefer=(_trait("long-context", 2), _trait("instruction-following"), _trait("rag")),
        ),
        Profile(
            key="structured_extraction",
            title="Structured extraction",
            keywords=_kw(
                "extract|structured|json|schema|pars|entity|entities|ner|classif|tagging|invoice|form filling|"
                "slot filling|information extraction|normali"
            ),
            prefer=(_trait("instruction-following", 2), _trait("tool-use"), _trait("rag")),
            avoid=(REASONING_FIRST,),
        ),
        GENERAL,
    )
}


def get_profile(key: str) -> Profile:
    """The profile with this key; ConfigError listing the valid keys otherwise."""
    try:
        return PROFILES[key]
    except KeyError:
        raise ConfigError(
            f"unknown domain profile {key!r}; use one of: {', '.join(PROFILES)} "
            "(or pass the study's free-text domain to resolve_profile)."
        ) from None


def resolve_profile(domain: str) -> ProfileMatch:
    """Map a free-text domain to the profile whose keywords it mentions most (ties: listing order).

    A keyword matches at the start of a word ("empath" matches "empathetic"). A profile key or title given
    verbatim wins outright. No match gives `general` with a note saying so.
    """
    text = domain.strip().lower()
    for profile in PROFILES.values():
        if text in {profile.key, profile.title.lower()}:
            return ProfileMatch(profile=profile, matched=[text])
    best: Profile | None = None
    best_hits: list[str] = []
    for profile in PROFILES.values():
        hits = [kw for kw in profile.keywords if re.search(r"(?<![a-z0-9])" + re.escape(kw), text)]
        if len(hits) > len(best_hits):
            best, best_hits = profile, hits
    if best is None:
        return ProfileMatch(
            profile=GENERAL,
            matched=[],
            note=f"no domain profile matched {domain!r}; using 'general' (prefers dialogue-tuned models). "
            f"Name a profile explicitly if one fits: {', '.join(k for k in PROFILES if k != 'general')}.",
        )
    return ProfileMatch(profile=best, matched=best_hits)
