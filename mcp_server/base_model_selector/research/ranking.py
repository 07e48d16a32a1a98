"""Step 2's ranking: the columns a fine-tuning decision turns on, one overall score, and explicit tie-breaks.

Domain fit says how well a model's training matches the domain; it must not also carry the licence or the
architecture, or a reader cannot tell a weak fit from an awkward licence. So each concern is a column with its own
points, and the overall score adds them with the formula shown in the table:

    Overall = Domain fit (★) + Licence + Base weights + Architecture + Context + Pull

    column        points
    Licence       0 permissive, or conditions while commercial use is not needed; −1 conditions and it is needed
    Base weights  0 published or not confirmed (flagged); −1 none published (only the instruct model can be tuned)
    Architecture  0 dense; −1 mixture of experts or hybrid (training-stack support, memory); −2 a hybrid mixture
                  of experts (both: Mamba/DeltaNet kernels and MoE support)
    Context       0 the longest input fits the native context (or it is unknown: flagged); −2 it does not
    Pull          0 an Ollama tag (confirmed on the library page, or listed but unconfirmed); −1 no tag, unless the
                  study allows a GGUF import (research.allow_gguf_import: true)

Equal scores are ordered by evidence (more fields backed by primary verified facts), then pullability (a
confirmed tag before an unconfirmed one before none), then recency (newer release first), then community (fewer
known issues first), then name; every tie that one of these decided is written down as a note, never silently.
Unless the study allows a GGUF import, the first row is always the best-ranked model that has an Ollama tag: a
top pick without one is moved down, and the note says why (an unconfirmed tag counts as pullable; its Pull cell
says it is unconfirmed, and `pull_model` names the library page if it does not exist).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TypeVar

from pydantic import BaseModel, Field

from base_model_selector.research.catalog import CatalogModel
from base_model_selector.research.fit import ContextFit
from base_model_selector.research.sources import primary_fields

FORMULA = "Overall = Domain fit (★) + Licence + Base weights + Architecture + Context + Pull"
TIE_BREAKS = "evidence, then pullability, then recency, then community (known issues)"
PULL_LEVELS = {2: "confirmed Ollama tag", 1: "unconfirmed Ollama tag", 0: "no Ollama tag"}


class Column(BaseModel):
    """One scored column: its points in the overall score and what the cell says."""

    points: int
    text: str


class Score(BaseModel):
    """A candidate's columns, overall score and the facts its ties are broken on."""

    fit: int = Field(description="Domain-fit stars shown (an override's, else the computed ones)")
    licence: Column
    base_weights: Column
    architecture: Column
    context: Column
    pull: Column
    overall: int
    evidence: int = Field(description="Fields backed by a primary verified fact (params, licence, traits, ...)")
    pull_level: int = Field(description="2 confirmed Ollama tag, 1 unconfirmed tag, 0 no tag")
    released: str = ""
    known_issues: int = 0
    community: str = Field(default="", description="Known issues and dated signals, for the table")


def signed(points: int) -> str:
    return "±0" if points == 0 else f"+{points}" if points > 0 else f"−{-points}"


def score(
    model: CatalogModel,
    stars: int,
    context: ContextFit,
    *,
    need_commercial: bool,
    allow_gguf_import: bool = False,
) -> Score:
    """The columns and overall score of `model` with `stars` of domain fit (see the module table)."""
    licence = _licence(model, need_commercial)
    base = (
        Column(points=-1, text="none published")
        if model.base_weights == "no"
        else Column(points=0, text="published" if model.base_weights == "yes" else "not confirmed")
    )
    if model.architecture == "dense":
        architecture = Column(points=0, text="dense")
    elif model.architecture == "hybrid" and model.is_moe:
        architecture = Column(points=-2, text="hybrid mixture of experts")
    else:
        architecture = Column(points=-1, text="mixture of experts" if model.architecture == "moe" else "hybrid")
    if context.fits_native is False:
        ctx = Column(points=-2, text=f"too short: needs {context.longest_input_tokens:,} tokens")
    elif context.fits_native is None:
        ctx = Column(points=0, text="native context unknown")
    else:
        ctx = Column(points=0, text="fits" if context.fits_default else f"fits with num_ctx={context.num_ctx}")
    level = pull_level(model)
    if level == 2:
        pull = Column(points=0, text="tag confirmed on the Ollama library")
    elif level == 1:
        pull = Column(points=0, text="tag not confirmed on the Ollama library")
    elif allow_gguf_import:
        pull = Column(points=0, text="no tag: GGUF import (allowed)")
    else:
        pull = Column(points=-1, text="no tag: needs a GGUF import")
    overall = stars + sum(c.points for c in (licence, base, architecture, ctx, pull))
    return Score(
        fit=stars,
        licence=licence,
        base_weights=base,
        architecture=architecture,
        context=ctx,
        pull=pull,
        overall=overall,
        evidence=len(primary_fields(model)),
        pull_level=level,
        released=model.released or "",
        known_issues=len(model.known_issues),
        community=community_text(model),
    )


def _licence(model: CatalogModel, need_commercial: bool) -> Column:
    if model.commercial_use == "yes":
        return Column(points=0, text=model.license)
    if model.commercial_use == "no":
        return Column(points=0, text=f"{model.license}: no commercial use")
    if need_commercial:
        return Column(points=-1, text=f"{model.license}: conditions")
    return Column(points=0, text=f"{model.license}: conditions (commercial use not needed)")


def pull_level(model: CatalogModel) -> int:
    return 2 if model.ollama_tags_verified else 1 if model.ollama_tags else 0


def default_tag(model: CatalogModel) -> str | None:
    """The tag to pull: the first confirmed one, else the first listed one."""
    tags = model.ollama_tags_verified or model.ollama_tags
    return tags[0] if tags else None


def community_text(model: CatalogModel) -> str:
    """'2 known issues; latest update 2025-08-06', or what is known instead: never blank, never invented."""
    parts = []
    if model.known_issues:
        parts.append(f"{len(model.known_issues)} known issue{'s' if len(model.known_issues) != 1 else ''}")
    else:
        parts.append("no known issues recorded")
    updates = sorted((s.as_of for s in model.community if s.signal == "latest_update"), reverse=True)
    if updates:
        parts.append(f"updated {updates[0]}")
    elif model.released:
        parts.append(f"released {model.released}")
    parts += [
        f"{s.signal.replace('_', ' ')} {s.value} ({s.as_of})" for s in model.community if s.signal != "latest_update"
    ]
    return "; ".join(parts)


T = TypeVar("T")


def _key(s: Score, name: str) -> tuple[int, int, int, str, int, str]:
    return (-s.overall, -s.evidence, -s.pull_level, _invert(s.released), s.known_issues, name.lower())


def _invert(month: str) -> str:
    """Sorts newer months first in an ascending sort; unknown months last."""
    return "".join(chr(ord("9") - ord(c) + ord("0")) if c.isdigit() else c for c in month) if month else "~"


def rank(
    items: Sequence[T],
    score_of: Callable[[T], Score],
    name_of: Callable[[T], str],
    *,
    allow_gguf_import: bool = False,
) -> tuple[list[T], list[str]]:
    """`items` best first by the overall score and the tie-breaks, and a note for every decided tie."""
    ordered = sorted(items, key=lambda item: _key(score_of(item), name_of(item)))
    notes = []
    if not allow_gguf_import and ordered:
        top = ordered[0]
        mover = next((item for item in ordered if score_of(item).pull_level > 0), None)
        if score_of(top).pull_level == 0 and mover is not None:
            ordered.remove(mover)
            ordered.insert(0, mover)
            notes.append(
                f"{name_of(top)} scores highest (overall {score_of(top).overall}) but has "
                f"{PULL_LEVELS[score_of(top).pull_level]}; {name_of(mover)} (overall {score_of(mover).overall}) "
                f"is listed first so the first pick can be pulled ({score_of(mover).pull.text}). Set "
                "research.allow_gguf_import: true in study.yaml to rank by score alone."
            )
    for above, below in pairwise(ordered):
        a, b = score_of(above), score_of(below)
        if a.overall == b.overall:
            notes.append(f"{name_of(above)} above {name_of(below)} (both overall {a.overall}): {_decided_by(a, b)}")
    return ordered, notes


def _decided_by(a: Score, b: Score) -> str:
    if a.evidence != b.evidence:
        return f"more fields backed by primary sources ({a.evidence} vs {b.evidence})"
    if a.pull_level != b.pull_level:
        return f"{PULL_LEVELS[a.pull_level]} vs {PULL_LEVELS[b.pull_level]}"
    if a.released != b.released:
        return f"newer release ({a.released or 'unknown'} vs {b.released or 'unknown'})"
    if a.known_issues != b.known_issues:
        return f"fewer known issues ({a.known_issues} vs {b.known_issues})"
    return "no difference in evidence, pullability, recency or known issues: listed by name"
