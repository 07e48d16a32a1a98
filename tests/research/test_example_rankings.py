"""The three example studies' rankings, pinned: ids, stars, overall scores and the reasons behind every point.

A change to the catalog, a profile or the ranking rules shows up here as a readable diff of who moved and why.
Regenerate on purpose after checking the new order makes sense:

    BMS_UPDATE_SNAPSHOTS=1 uv run pytest tests/research/test_example_rankings.py
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date
from pathlib import Path

import pytest

from base_model_selector.research.candidates import research_candidates
from base_model_selector.research.compare import build_comparison_table
from base_model_selector.study.directory import Study
from example_studies import copy_example

SNAPSHOTS = Path(__file__).parent / "snapshots"


def ranking(name: str, tmp_path: Path) -> dict[str, object]:
    study = Study.open(copy_example(name, tmp_path / name))
    asyncio.run(research_candidates(study, search=False, today=date(2026, 12, 2)))
    table = build_comparison_table(study)
    return {
        "domain": table.domain,
        "profile": table.profile,
        "size": table.size,
        "rows": [
            {"rank": r.rank, "id": r.id, "stars": r.stars, "overall": r.overall, "reasons": r.fit_reasons}
            for r in table.rows
        ],
        "near_range": [{"id": r.id, "params": r.params, "stars": r.stars} for r in table.near_range],
        "excluded": [e.id for e in table.excluded],
        "ranking_notes": table.ranking_notes,
    }


@pytest.mark.parametrize("name", ["empathetic-coaching", "customer-support", "sql-analyst"])
def test_example_ranking_matches_its_snapshot(name: str, tmp_path: Path) -> None:
    got = ranking(name, tmp_path)
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("BMS_UPDATE_SNAPSHOTS"):
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8")), f"ranking of {name} changed; see the module docstring"


@pytest.mark.parametrize(
    ("name", "first_three"),
    [
        pytest.param("empathetic-coaching", {"qwen3-8b", "granite-4.1-8b", "qwen2.5-7b-instruct"}, id="coaching"),
        pytest.param("sql-analyst", {"qwen2.5-coder-7b-instruct", "qwen3-8b", "granite-3.3-8b-instruct"}, id="sql"),
    ],
)  # fmt: skip
def test_the_first_three_rows_are_a_shortlist_an_engineer_would_make(
    name: str, first_three: set[str], tmp_path: Path
) -> None:
    rows = ranking(name, tmp_path)["rows"]
    top = [row["id"] for row in rows[:3]]  # type: ignore[index]
    assert set(top) <= first_three, top
    for row in rows[:3]:  # type: ignore[index]
        points = [r for r in row["reasons"] if r[:1] in "+−"]
        assert points and all("(http" in r for r in points), "each star has a sourced reason"
