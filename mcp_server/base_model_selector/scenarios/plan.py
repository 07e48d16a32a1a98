"""The scenario plan: which taxonomy cells the n scenarios of a baseline fill, decided before any are written.

Fifty scenarios cannot cover every topic × subtopic × style cell of a real taxonomy, so the plan spends them the
way the weights say (largest-remainder apportionment, level by level: topics, then subtopics within a topic,
then styles within a subtopic), reserves the edge-case share, and makes sure every topic, style and edge case
appears at least once whenever n allows. It is deterministic for a seed, so a study can be re-planned and
re-generated identically; it says what it covers and which n would cover every cell, and warns when n is too
small. Each slot has a stable ID (its cell and its occurrence in that cell), so a larger re-plan keeps the
scenarios already written for the slots it shares with the old one.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from base_model_selector.scenarios.taxonomy import Subtopic, Taxonomy
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import utc_now

MAX_N = 2000


class PlanSlot(BaseModel):
    """One scenario to be written: its cell tags and its stable ID."""

    model_config = ConfigDict(extra="forbid")

    slot: str = Field(description="Stable ID: hash of the cell tags and the occurrence within the cell")
    topic: str
    subtopic: str | None = None
    style: str
    edge_case: str | None = None
    persona: str | None = None
    occurrence: int = Field(default=0, ge=0, description="0 for the first slot of a cell, 1 for the second ...")

    def cell(self) -> tuple[str, str | None, str, str | None]:
        return (self.topic, self.subtopic, self.style, self.edge_case)


class Coverage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cells_total: int = Field(description="topic × subtopic × style cells of the taxonomy (edge cases apart)")
    cells_covered: int
    topics: tuple[int, int] = Field(description="(covered, total)")
    subtopics: tuple[int, int]
    styles: tuple[int, int]
    edge_cases: tuple[int, int]
    personas: tuple[int, int]
    n_to_cover_all: int = Field(description="The smallest n whose plan covers every cell and edge case")


class ScenarioPlan(BaseModel):
    """plan.json: what generate_scenarios fills, and how well it covers the taxonomy."""

    model_config = ConfigDict(extra="forbid")

    n: int
    seed: int
    edge_case_share: float
    edge_case_n: int
    taxonomy_sha256: str | None = None
    created_at: str = Field(default_factory=utc_now)
    coverage: Coverage
    warnings: list[str] = Field(default_factory=list)
    slots: list[PlanSlot]

    def summary(self) -> str:
        c = self.coverage
        lines = [
            f"Plan: {self.n} scenarios ({self.n - self.edge_case_n} regular, {self.edge_case_n} edge cases), "
            f"seed {self.seed}",
            f"  cells {c.cells_covered}/{c.cells_total} · topics {c.topics[0]}/{c.topics[1]} · subtopics "
            f"{c.subtopics[0]}/{c.subtopics[1]} · styles {c.styles[0]}/{c.styles[1]} · edge cases "
            f"{c.edge_cases[0]}/{c.edge_cases[1]}"
            + (f" · personas {c.personas[0]}/{c.personas[1]}" if c.personas[1] else ""),
        ]
        if c.cells_covered < c.cells_total:
            lines.append(f"  n={c.n_to_cover_all} would cover every cell")
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- apportionment
def apportion(total: int, weights: Sequence[float], minimums: Sequence[int], tiebreak: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), giving each item at least its minimum.

    Items whose proportional quota is below their minimum get the minimum and the rest is re-apportioned among
    the others, so heavy items stay proportional. Equal remainders go to the lowest `tiebreak` key.
    The caller guarantees sum(minimums) <= total.
    """
    count = len(weights)
    fixed: dict[int, int] = {}
    while True:
        free = [i for i in range(count) if i not in fixed]
        remaining = total - sum(fixed.values())
        weight_sum = sum(weights[i] for i in free)
        if not free or weight_sum <= 0:
            break
        quotas = {i: remaining * weights[i] / weight_sum for i in free}
        below = [i for i in free if quotas[i] < minimums[i]]
        if not below:
            break
        for i in below:
            fixed[i] = minimums[i]
    result = [fixed.get(i, 0) for i in range(count)]
    if free and weight_sum > 0:
        floors = {i: math.floor(quotas[i]) for i in free}
        for i in free:
            result[i] = floors[i]
        leftover = remaining - sum(floors.values())
        order = sorted(free, key=lambda i: (-(quotas[i] - floors[i]), tiebreak[i]))
        for i in order[:leftover]:
            result[i] += 1
    return result


def _rng(seed: int, label: str) -> random.Random:
    return random.Random(f"{seed}\x1f{label}")


def _keys(seed: int, label: str, count: int) -> list[float]:
    rng = _rng(seed, label)
    return [rng.random() for _ in range(count)]


def _rotating(count: int, offset: int) -> list[float]:
    """Tie-break keys that prefer item `offset`, then offset+1, ...: spreads ties across successive calls."""
    return [float((i - offset) % count) for i in range(count)] if count else []


def slot_id(topic: str, subtopic: str | None, style: str, edge_case: str | None, occurrence: int) -> str:
    text = "\x1f".join([topic, subtopic or "", style, edge_case or "", str(occurrence)])
    return "slot-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def edge_count(n: int, share: float, edge_cases: int) -> int:
    """Edge-case slots for n: the share rounded half up, at least one when there are any and n ≥ 2."""
    if not edge_cases or share <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, math.floor(n * share + 0.5)))


def check_n(n: int) -> None:
    if n < 1:
        raise ConfigError(f"n={n}: a plan needs at least 1 scenario (the default is 50)")
    if n > MAX_N:
        raise ConfigError(
            f"n={n} is above the cap of {MAX_N} scenarios per study: that many costs hours of model time per "
            f"candidate and the 95% interval barely narrows past a few hundred; use n ≤ {MAX_N}"
        )


# --------------------------------------------------------------------------- the plan
def make_plan(taxonomy: Taxonomy, n: int, seed: int, *, taxonomy_sha256: str | None = None) -> ScenarioPlan:
    """Allocate n scenarios across the taxonomy's cells; see the module docstring for the rules."""
    check_n(n)
    share = taxonomy.share
    n_edge = edge_count(n, share, len(taxonomy.edge_cases))
    regular = _regular_slots(taxonomy, n - n_edge, seed)
    edge = _edge_slots(taxonomy, n_edge, seed)
    slots = regular + edge
    _assign_personas(taxonomy, slots, seed)
    numbered = _number(slots)
    coverage = _coverage(taxonomy, numbered, n_to_cover_all=_n_to_cover_all(taxonomy))
    return ScenarioPlan(
        n=n,
        seed=seed,
        edge_case_share=share,
        edge_case_n=n_edge,
        taxonomy_sha256=taxonomy_sha256,
        coverage=coverage,
        warnings=_warnings(taxonomy, n, coverage),
        slots=numbered,
    )


@dataclass
class _Draft:
    topic: str
    subtopic: str | None
    style: str
    edge_case: str | None = None
    persona: str | None = None


def _regular_slots(tax: Taxonomy, total: int, seed: int) -> list[_Draft]:
    if total <= 0:
        return []
    styles = [s.name for s in tax.styles]
    style_w = [s.weight for s in tax.styles]
    k = len(styles)
    subs: list[list[Subtopic | None]] = [list(t.subtopics) or [None] for t in tax.topics]
    n_subs = [len(s) for s in subs]
    cells = [m * k for m in n_subs]
    # Tiers: cover every cell, else every subtopic, else every topic, as far as the total allows.
    if total >= sum(cells):
        topic_min = cells
    elif total >= sum(n_subs):
        topic_min = n_subs
    elif total >= len(tax.topics):
        topic_min = [1] * len(tax.topics)
    else:
        topic_min = [0] * len(tax.topics)
    topic_counts = apportion(total, [t.weight for t in tax.topics], topic_min, _keys(seed, "topics", len(tax.topics)))
    drafts: list[_Draft] = []
    # Style rotation starts at each subtopic's fixed position in the taxonomy (shifted by the seed), so successive
    # subtopics take successive styles, and a re-plan with another n keeps each subtopic's styles.
    offset = _rng(seed, "styles").randrange(k)
    for topic, subtopics, count in zip(tax.topics, subs, topic_counts, strict=True):
        if count == 0:
            offset += len(subtopics)
            continue
        m = len(subtopics)
        sub_min = [k] * m if count >= m * k else [1] * m if count >= m else [0] * m
        sub_w = [s.weight if s is not None else 1.0 for s in subtopics]
        sub_counts = apportion(count, sub_w, sub_min, _keys(seed, f"subtopics\x1f{topic.name}", m))
        for sub, c in zip(subtopics, sub_counts, strict=True):
            offset += 1
            if c == 0:
                continue
            style_counts = apportion(c, style_w, [1] * k if c >= k else [0] * k, _rotating(k, offset))
            for style, sc in zip(styles, style_counts, strict=True):
                drafts += [_Draft(topic.name, sub.name if sub else None, style) for _ in range(sc)]
    _repair_styles(drafts, styles)
    return drafts


def _repair_styles(drafts: list[_Draft], styles: list[str]) -> None:
    """When n allows, give every style at least one slot, taking it from the most repeated style."""
    if len(drafts) < len(styles):
        return
    for missing in styles:
        counts = Counter(d.style for d in drafts)
        if counts[missing]:
            continue
        donor = max(styles, key=lambda s: (counts[s], -styles.index(s)))
        per_cell = Counter((d.topic, d.subtopic, d.style) for d in drafts)
        # Prefer a slot whose cell is repeated, so no cell loses its only scenario.
        candidates = [d for d in drafts if d.style == donor]
        candidates.sort(key=lambda d: -per_cell[(d.topic, d.subtopic, d.style)])
        candidates[0].style = missing


def _edge_slots(tax: Taxonomy, total: int, seed: int) -> list[_Draft]:
    if total <= 0:
        return []
    cases = tax.edge_cases
    minimum = [1] * len(cases) if total >= len(cases) else [0] * len(cases)
    counts = apportion(total, [c.weight for c in cases], minimum, _keys(seed, "edge_cases", len(cases)))
    drafts: list[_Draft] = []
    for case, count in zip(cases, counts, strict=True):
        if count == 0:
            continue
        rng = _rng(seed, f"edge\x1f{case.name}")
        topics = [tax.topic(name) for name in case.topics] if case.topics else list(tax.topics)
        t_min = [1] * len(topics) if count >= len(topics) else [0] * len(topics)
        t_counts = apportion(count, [t.weight for t in topics], t_min, [rng.random() for _ in topics])
        styles = [tax.style(name) for name in case.styles] if case.styles else list(tax.styles)
        offset = rng.randrange(len(styles))
        for topic, tc in zip(topics, t_counts, strict=True):
            for _ in range(tc):
                sub = (
                    rng.choices(topic.subtopics, weights=[s.weight for s in topic.subtopics])[0]
                    if (topic.subtopics)
                    else None
                )
                style = styles[offset % len(styles)]
                offset += 1
                drafts.append(_Draft(topic.name, sub.name if sub else None, style.name, case.name))
    return drafts


def _assign_personas(tax: Taxonomy, drafts: list[_Draft], seed: int) -> None:
    if not tax.personas or not drafts:
        return
    p = len(tax.personas)
    counts = apportion(
        len(drafts),
        [x.weight for x in tax.personas],
        [1] * p if len(drafts) >= p else [0] * p,
        _keys(seed, "personas", p),
    )
    sequence = [persona.name for persona, c in zip(tax.personas, counts, strict=True) for _ in range(c)]
    _rng(seed, "persona-order").shuffle(sequence)
    for draft, persona in zip(drafts, sequence, strict=True):
        draft.persona = persona


def _number(drafts: list[_Draft]) -> list[PlanSlot]:
    seen: Counter[tuple[str, str | None, str, str | None]] = Counter()
    out = []
    for d in drafts:
        cell = (d.topic, d.subtopic, d.style, d.edge_case)
        occurrence = seen[cell]
        seen[cell] += 1
        out.append(
            PlanSlot(
                slot=slot_id(*cell, occurrence),
                topic=d.topic,
                subtopic=d.subtopic,
                style=d.style,
                edge_case=d.edge_case,
                persona=d.persona,
                occurrence=occurrence,
            )
        )
    return out


# --------------------------------------------------------------------------- reporting
def _min_n(tax: Taxonomy, regular: int, edge: int = 0) -> int:
    """The smallest n whose plan has at least `regular` regular and `edge` edge-case slots."""
    for n in range(max(1, regular + edge), MAX_N * 10):
        e = edge_count(n, tax.share, len(tax.edge_cases))
        if n - e >= regular and e >= edge:
            return n
    return MAX_N * 10


def _n_to_cover_all(tax: Taxonomy) -> int:
    """The smallest n at which the tiers guarantee every cell and every edge case a slot."""
    cells = sum(max(1, len(t.subtopics)) for t in tax.topics) * len(tax.styles)
    return _min_n(tax, cells, len(tax.edge_cases))


def _coverage(tax: Taxonomy, slots: list[PlanSlot], n_to_cover_all: int) -> Coverage:
    regular = [s for s in slots if s.edge_case is None]
    n_subtopics = sum(max(1, len(t.subtopics)) for t in tax.topics)
    return Coverage(
        cells_total=n_subtopics * len(tax.styles),
        cells_covered=len({(s.topic, s.subtopic, s.style) for s in regular}),
        topics=(len({s.topic for s in slots}), len(tax.topics)),
        subtopics=(len({(s.topic, s.subtopic) for s in slots}), n_subtopics),
        styles=(len({s.style for s in slots}), len(tax.styles)),
        edge_cases=(len({s.edge_case for s in slots if s.edge_case}), len(tax.edge_cases)),
        personas=(len({s.persona for s in slots if s.persona}), len(tax.personas)),
        n_to_cover_all=n_to_cover_all,
    )


def _warnings(tax: Taxonomy, n: int, c: Coverage) -> list[str]:
    n_subtopics = sum(max(1, len(t.subtopics)) for t in tax.topics)
    checks = [
        ("topics", c.topics, _min_n(tax, len(tax.topics))),
        ("styles", c.styles, _min_n(tax, len(tax.styles))),
        ("subtopics", c.subtopics, _min_n(tax, n_subtopics)),
        ("edge cases", c.edge_cases, _min_n(tax, 0, len(tax.edge_cases))),
    ]
    out = [
        f"n={n} is too small to cover all {total} {what} ({covered} covered); n ≥ {needed} covers every one"
        for what, (covered, total), needed in checks
        if covered < total
    ]
    if 1 < n < 30:
        out.append(
            f"n={n} gives a wide 95% interval on the pass rate (about ±{_half_width(n):.0%} at 70%); 50 or "
            "more is usual for a baseline"
        )
    return out


def _half_width(n: int, p: float = 0.7) -> float:
    """Half the width of the Wilson interval at pass rate p, for the warning's rough figure."""
    from base_model_selector.study.stats import wilson_interval

    low, high = wilson_interval(p * n, n)
    return (high - low) / 2
