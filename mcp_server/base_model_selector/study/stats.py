"""Small, exact statistics for pass rates: the Wilson score interval and how many scenarios would settle a decision.

A pass rate from 50 scenarios is an estimate, and the decision it drives (ship, fine-tune, rebuild) is expensive
to get wrong. The Wilson interval is used rather than the textbook normal ("Wald") interval because it stays
inside [0, 1] and remains honest at p = 0, p = 1 and small n, which is exactly where a baseline run often lands.
Pure functions only, no I/O, so the numbers can be pinned by tests against published values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the two-sided 95% normal quantile
MAX_SETTLE_N = 1_000_000
"""Largest total number of scenarios the settle search considers; beyond it we say it cannot practically settle."""
PRACTICAL_SETTLE_N = 1_000
"""More scenarios than a study would realistically judge: past it the decision says "borderline", not a count."""


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for `successes` out of `n` (default 95%); (0.0, 1.0) when n is 0.

    `successes` may be fractional so the same formula can project an observed rate onto a larger n.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # Exact at the edges (the formula gives them up to rounding): no failures means the top is 1, and vice versa.
    if successes == 0:
        low = 0.0
    if successes == n:
        high = 1.0
    return low, high


def crosses(low: float, high: float, threshold: float) -> bool:
    """Does [low, high] hold plausible rates on both sides of a cut-off whose upper band includes the cut-off itself?

    Bands are half-open ([t, next)), so a rate exactly at t is in the upper band: the interval straddles t when it
    reaches strictly below t and also reaches t or above.
    """
    return low < threshold <= high


def crossed_thresholds(low: float, high: float, thresholds: Iterable[float]) -> list[float]:
    return sorted(t for t in thresholds if crosses(low, high, t))


@dataclass(frozen=True)
class SettleEstimate:
    """How many scenarios in total would make the interval clear every threshold, if the rate stayed as observed."""

    total: int | None
    """Smallest total n that settles it; None when it never settles (or not within MAX_SETTLE_N)."""
    reason: str
    """One sentence: why it never settles, or what the estimate assumes."""


def _settled(p: float, n: int, thresholds: list[float], z: float) -> bool:
    low, high = wilson_interval(p * n, n, z)
    return not crossed_thresholds(low, high, thresholds)


def scenarios_to_settle(
    p: float, n: int, thresholds: Iterable[float], z: float = Z_95, limit: int = MAX_SETTLE_N
) -> SettleEstimate:
    """The smallest n' ≥ n at which the Wilson interval at rate `p` crosses no threshold.

    With p held fixed the interval only narrows around p as n grows, so the first settling n is found by
    doubling and then bisecting (checked against a linear scan in the tests). A rate exactly on a threshold can
    never settle: the band starts at the threshold, so the interval always reaches both sides.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p must be within [0, 1], got {p}")
    cuts = sorted(set(thresholds))
    n = max(n, 1)
    on_cut = [t for t in cuts if math.isclose(p, t, abs_tol=1e-12) and p > 0]
    if on_cut:
        return SettleEstimate(
            None,
            f"the observed rate {p:.0%} sits exactly on the {on_cut[0]:.0%} threshold, so no number of scenarios "
            "at this rate can put the whole interval on one side",
        )
    if _settled(p, n, cuts, z):
        return SettleEstimate(n, "already settled")
    if not _settled(p, limit, cuts, z):
        return SettleEstimate(
            None,
            f"at the observed rate {p:.1%} the interval still crosses a threshold with {limit:,} scenarios",
        )
    lo, hi = n, n  # invariant: lo does not settle, hi does
    step = max(1, n)
    while not _settled(p, hi, cuts, z):
        lo = hi
        hi = min(limit, hi + step)
        step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _settled(p, mid, cuts, z):
            hi = mid
        else:
            lo = mid
    return SettleEstimate(hi, "assuming the pass rate stays at the observed value")


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile: an actual observed latency, no interpolation."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)
