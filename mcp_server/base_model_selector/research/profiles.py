"""Domain profiles: what a good base model looks like for a kind of work, and why.

Stars for "domain fit" must come from stated reasons, not taste. A profile names the traits to prefer and to
avoid for a domain (empathetic conversation wants dialogue-tuned models and not reasoning-first ones; SQL wants
code models; a multilingual product wants broad language coverage), says why for each, and says how a trait is
recognised in the catalog: substrings of a model's `focus`, substrings of its facts' claims, or thresholds on
native context or size. `resolve_profile` maps a study's free-text domain ("empathetic coaching", "SQL data
analysis assistant") to a profile by keywords, falling back to `general` with a note.

The profiles are Python data rather than a shipped YAML file: they change only with code review, mypy checks
them, nothing is parsed at start-up, and a second file format would need its own loader and error messages for
no user benefit (studies adjust judgement through their rubric, and an agent can override stars with a
justification, see `fit.FitOverride`).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from base_model_selector.research.catalog import CatalogModel
from base_model_selector.study.errors import ConfigError


class Trait(BaseModel):
    """A property that counts for or against a model in a domain, and how to see it in the catalog.

    A model has the trait when ANY criterion holds (a `focus` substring, a `facts` substring in a claim, native
    context ≥ `min_context` or ≤ `max_context`, total size ≤ `max_params_b`), unless one of `unless_focus`
    appears in its focus. Matching is case-insensitive.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    label: str = Field(description="Short phrase used in fit reasons, e.g. 'instruction-tuned for dialogue'.")
    why: str
    focus: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    unless_focus: tuple[str, ...] = ()
    min_context: int | None = None
    max_context: int | None = None
    max_params_b: float | None = None
    weight: int = 1

    def evidence(self, model: CatalogModel) -> str | None:
        """Why `model` has this trait ("focus: chat", "context 8K ≤ 8K"), or None when it does not."""
        focus = [item.lower() for item in model.focus]
        if any(u in item for u in self.unless_focus for item in focus):
            return None
        for item, original in zip(focus, model.focus, strict=True):
            if any(f in item for f in self.focus):
                return f"focus: {original}"
        for fact in model.facts:
            if any(f in fact.claim.lower() for f in self.facts):
                return f"{fact.field}: {fact.claim[:60]}"
        ctx = model.context_tokens
        if self.min_context is not None and ctx is not None and ctx >= self.min_context:
            return f"context {tokens(ctx)} ≥ {tokens(self.min_context)}"
        if self.max_context is not None and ctx is not None and ctx <= self.max_context:
            return f"context {tokens(ctx)} ≤ {tokens(self.max_context)}"
        if self.max_params_b is not None and model.params_b <= self.max_params_b:
            return f"{model.params_b:g}B ≤ {self.max_params_b:g}B"
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


CHAT = Trait(
    key="chat",
    label="instruction-tuned for dialogue",
    focus=("chat",),
    why="Multi-turn conversation is what chat/instruct tuning optimises; a fine-tune then starts from the "
    "right register instead of having to teach it.",
)
REASONING_FIRST = Trait(
    key="reasoning_first",
    label="reasoning-tuned without a chat mode",
    focus=("reasoning",),
    unless_focus=("chat",),
    why="Reasoning-tuned models are strong at logic but tend to be verbose, analytic and slow in dialogue: "
    "they think before every reply and answer feelings with solutions.",
)
NARROW_SPECIALIST = Trait(
    key="narrow_specialist",
    label="code/math specialist",
    focus=("code", "coding", "math"),
    unless_focus=("chat",),
    why="Post-training aimed at code or maths trades away conversational warmth and general register.",
)
CODE = Trait(
    key="code",
    label="trained for code",
    focus=("code", "coding"),
    why="Code-trained models know syntax, libraries and SQL dialects; these are costly to teach by fine-tuning.",
)
MATH = Trait(
    key="math",
    label="trained for maths/STEM",
    focus=("math", "stem"),
    why="Maths-focused post-training improves multi-step arithmetic and symbolic work.",
)
REASONING = Trait(
    key="reasoning",
    label="reasoning (thinking) mode",
    focus=("reasoning", "think"),
    why="Thinking traces let a model work through multi-step logic before answering.",
)
MULTILINGUAL = Trait(
    key="multilingual",
    label="multilingual pretraining",
    focus=("multilingual",),
    why="Language coverage comes from pretraining; fine-tuning cannot cheaply add a language the base lacks.",
)
ENGLISH_FIRST = Trait(
    key="english_first",
    label="English-first",
    focus=("english",),
    facts=("primarily english", "english-first"),
    why="English-first models degrade sharply in other languages and tokenise them inefficiently.",
)
TOOLS = Trait(
    key="tools",
    label="trained for tool use / function calling",
    focus=("tool", "function calling", "agent"),
    why="Native function-calling training teaches the call format and schema adherence that agents rely on.",
)
GROUNDED = Trait(
    key="grounded",
    label="tuned for grounded answers (RAG)",
    focus=("rag", "enterprise"),
    why="RAG-tuned models answer from supplied passages and cite them instead of improvising.",
)
LONG_CONTEXT = Trait(
    key="long_context",
    label="long native context",
    focus=("long context",),
    min_context=131_072,
    why="Whole documents, retrieved passages or long agent traces must fit in the window without chunking.",
)
SHORT_CONTEXT = Trait(
    key="short_context",
    label="short native context",
    max_context=8_192,
    why="An 8K-or-smaller window forces chunking, which loses cross-references in long inputs.",
)
TINY = Trait(
    key="tiny",
    label="very small model",
    max_params_b=1.0,
    why="Models of 1B or less hold little world knowledge and lose coherence over long outputs.",
)
FINETUNE_TARGET = Trait(
    key="finetune_target",
    label="designed as a fine-tuning target",
    focus=("task-specific fine-tuning", "function calling"),
    why="Small models built for task-specific fine-tuning, or trained on function calling, follow a fixed "
    "output schema well after a short fine-tune.",
)
THINKING_NOISE = Trait(
    key="thinking_noise",
    label="reasoning-first output",
    focus=("reasoning",),
    unless_focus=("chat", "toggle", "hybrid thinking", "thinking control", "variant", "think/no_think"),
    why="Thinking blocks before the answer break strict JSON output and add latency unless thinking can be "
    "switched off.",
)

GENERAL = Profile(key="general", title="General assistant", keywords=(), prefer=(CHAT,))

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
            prefer=(CHAT,),
            avoid=(REASONING_FIRST, NARROW_SPECIALIST),
        ),
        Profile(
            key="coding",
            title="Coding",
            keywords=_kw(
                "code|coding|program|software|developer|sql|python|javascript|typescript|java|rust|debug|"
                "refactor|devops|scripting|data analysis|database|query"
            ),
            prefer=(CODE, TOOLS),
            avoid=(TINY,),
        ),
        Profile(
            key="math_logic",
            title="Math & logic",
            keywords=_kw(
                "math|logic|reasoning|proof|puzzle|arithmetic|algebra|calculus|geometry|stem|physics|theorem|"
                "olympiad|word problem"
            ),
            prefer=(REASONING, MATH),
            avoid=(TINY,),
        ),
        Profile(
            key="creative_writing",
            title="Creative writing",
            keywords=_kw(
                "creative|fiction|story|stories|storytell|novel|poem|poetry|screenplay|screenwrit|roleplay|"
                "role-play|copywrit|narrative|lyric|writing"
            ),
            prefer=(CHAT,),
            avoid=(REASONING_FIRST, TINY),
        ),
        Profile(
            key="factual_qa",
            title="Factual Q&A",
            keywords=_kw(
                "factual|q&a|qa|question answer|questions|trivia|knowledge|rag|retrieval|encyclop|faq|"
                "documentation|research assistant|lookup"
            ),
            prefer=(GROUNDED, LONG_CONTEXT, CHAT),
            avoid=(TINY,),
        ),
        Profile(
            key="customer_support",
            title="Customer support",
            keywords=_kw(
                "customer|support|helpdesk|help desk|service desk|ticket|call center|call centre|complaint|"
                "refund|troubleshoot|client service"
            ),
            prefer=(CHAT, TOOLS, GROUNDED),
            avoid=(REASONING_FIRST,),
        ),
        Profile(
            key="multilingual",
            title="Multilingual",
            keywords=_kw(
                "multilingual|translat|locali|language|cross-lingual|bilingual|non-english|spanish|french|"
                "german|portuguese|italian|chinese|japanese|korean|arabic|hindi|russian|turkish|dutch|polish"
            ),
            prefer=(MULTILINGUAL,),
            avoid=(ENGLISH_FIRST,),
        ),
        Profile(
            key="tool_use",
            title="Tool use / agents",
            keywords=_kw(
                "tool|function call|function-call|agent|agentic|api call|workflow|automation|orchestrat|"
                "planner|mcp|browser use"
            ),
            prefer=(TOOLS, LONG_CONTEXT),
            avoid=(TINY,),
        ),
        Profile(
            key="summarisation",
            title="Summarisation",
            keywords=_kw("summar|digest|condens|abstract|tl;dr|tldr|meeting notes|minutes|recap|synops|brief"),
            prefer=(LONG_CONTEXT, CHAT),
            avoid=(SHORT_CONTEXT, TINY),
        ),
        Profile(
            key="structured_extraction",
            title="Structured extraction",
            keywords=_kw(
                "extract|structured|json|schema|pars|entity|entities|ner|classif|tagging|invoice|form filling|"
                "slot filling|information extraction|normali"
            ),
            prefer=(FINETUNE_TARGET, GROUNDED),
            avoid=(THINKING_NOISE,),
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
