"""The review page's charts, drawn on the server as SVG: no chart library, no script, nothing fetched.

Two pictures carry the decision: where the pass rate and its 95% interval sit against the study's thresholds
(one row per model, so a backup that was also run reads side by side with the primary), and how often each
criterion fails. Sizes are SVG attributes and colours come from review.css classes, so the strict
Content-Security-Policy (no inline styles, no inline scripts) holds. Every label is escaped; a bar is a focusable
element that the page's script turns into a filter of the responses list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from markupsafe import Markup, escape

from base_model_selector.decision.decide import Decision
from base_model_selector.decision.failures import CriterionFailures
from base_model_selector.decision.report import pct
from base_model_selector.study.config import Thresholds

WIDTH = 720
LABEL_W = 190
RIGHT = 24
ROW_H = 46
TOP = 26
AXIS_H = 24
BAR_ROW = 26
BAR_LABEL_W = 72
BAR_VALUE_W = 96
BAR_WIDTH = 480


@dataclass(frozen=True)
class IntervalRow:
    """One model's pass rate with its Wilson 95% interval."""

    label: str
    rate: float
    low: float
    high: float
    passed: int
    assessed: int


class Run(Protocol):
    model: str
    role: str
    decision: Decision | None


def decision_chart(runs: Sequence[Run]) -> Markup:
    """The interval chart for every run that has a decision (the primary, and the backup when it was run)."""
    decided = [(run, run.decision) for run in runs if run.decision is not None]
    if not decided:
        return Markup("")
    rows = [
        IntervalRow(
            label=run.model + (f" ({run.role})" if run.role else ""),
            rate=d.pass_rate.rate,
            low=d.pass_rate.low,
            high=d.pass_rate.high,
            passed=d.pass_rate.passed,
            assessed=d.pass_rate.assessed,
        )
        for run, d in decided
    ]
    return interval_chart(rows, decided[0][1].thresholds)


def _n(value: float) -> str:
    return f"{value:.1f}"


def interval_chart(rows: Sequence[IntervalRow], thresholds: Thresholds) -> Markup:
    """Pass rate and interval per model, over the three decision bands and the threshold lines."""
    plot = WIDTH - LABEL_W - RIGHT
    height = TOP + ROW_H * len(rows) + AXIS_H

    def x(value: float) -> float:
        return LABEL_W + max(0.0, min(1.0, value)) * plot

    low_cut, high_cut = thresholds.fine_tune, thresholds.sufficient
    bottom = TOP + ROW_H * len(rows)
    parts = [
        f'<svg class="chart interval" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="interval-title">',
        '<title id="interval-title">Pass rate with its 95% interval against the decision thresholds</title>',
    ]
    zones = (
        (0.0, low_cut, "zone-full", "full pipeline"),
        (low_cut, high_cut, "zone-tune", "fine-tune"),
        (high_cut, 1.0, "zone-ok", "likely sufficient"),
    )
    for start, end, css, name in zones:
        if end <= start:
            continue
        parts.append(
            f'<rect class="{css}" x="{_n(x(start))}" y="{TOP}" width="{_n(x(end) - x(start))}" '
            f'height="{ROW_H * len(rows)}"/>'
        )
        parts.append(f'<text class="zone-label" x="{_n(x(start) + 4)}" y="{TOP - 8}">{escape(name)}</text>')
    for cut in (low_cut, high_cut):
        parts.append(f'<line class="threshold" x1="{_n(x(cut))}" x2="{_n(x(cut))}" y1="{TOP - 4}" y2="{bottom + 4}"/>')
    for value in sorted({0.0, low_cut, high_cut, 1.0}):
        parts.append(
            f'<text class="axis" x="{_n(x(value))}" y="{bottom + 18}" text-anchor="middle">{escape(pct(value))}</text>'
        )
    for i, row in enumerate(rows):
        mid = TOP + ROW_H * i + ROW_H / 2
        label = row.label if len(row.label) <= 26 else row.label[:25] + "…"
        caption = f"{row.passed}/{row.assessed} = {pct(row.rate)} ({pct(row.low)}–{pct(row.high)})"
        parts += [
            "<g>",
            f"<title>{escape(row.label)}: {escape(caption)}, 95% Wilson interval</title>",
            f'<text class="row-label" x="8" y="{_n(mid - 4)}">{escape(label)}</text>',
            f'<text class="row-caption" x="8" y="{_n(mid + 13)}">{escape(caption)}</text>',
            f'<line class="ci" x1="{_n(x(row.low))}" x2="{_n(x(row.high))}" y1="{_n(mid)}" y2="{_n(mid)}"/>',
            f'<line class="ci" x1="{_n(x(row.low))}" x2="{_n(x(row.low))}" y1="{_n(mid - 7)}" y2="{_n(mid + 7)}"/>',
            f'<line class="ci" x1="{_n(x(row.high))}" x2="{_n(x(row.high))}" y1="{_n(mid - 7)}" y2="{_n(mid + 7)}"/>',
            f'<circle class="point" cx="{_n(x(row.rate))}" cy="{_n(mid)}" r="6"/>',
            "</g>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped labels only


def criterion_bars(criteria: Sequence[CriterionFailures]) -> Markup:
    """One bar per criterion and check: its failure rate, with failures/assessed; a gate's bar is marked."""
    plot = BAR_WIDTH - BAR_LABEL_W - BAR_VALUE_W
    height = BAR_ROW * len(criteria) + 4
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {BAR_WIDTH} {height}" width="{BAR_WIDTH}" height="{height}" '
        'role="group" aria-label="Failures by criterion">'
    ]
    for i, c in enumerate(criteria):
        y = BAR_ROW * i + 2
        width = max(0.0, min(1.0, c.rate)) * plot
        kind = "fill gate" if c.gate else "fill"
        question = f" — {c.question}" if c.question else ""
        parts += [
            f'<g class="bar" data-criterion="{escape(c.criterion_id)}" tabindex="0" role="button" '
            f'aria-label="Show the responses failing {escape(c.criterion_id)}">',
            f"<title>{escape(c.criterion_id)}{' (safety gate)' if c.gate else ''}{escape(question)}</title>",
            f'<text class="bar-label" x="0" y="{y + 17}">{escape(c.criterion_id)}</text>',
            f'<rect class="track" x="{BAR_LABEL_W}" y="{y + 4}" width="{plot}" height="{BAR_ROW - 8}" rx="3"/>',
            f'<rect class="{kind}" x="{BAR_LABEL_W}" y="{y + 4}" width="{_n(width)}" height="{BAR_ROW - 8}" rx="3"/>',
            f'<text class="bar-value" x="{BAR_LABEL_W + plot + 8}" y="{y + 17}">'
            f"{c.failures}/{c.assessed} · {escape(pct(c.rate))}</text>",
            "</g>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped labels only
