"""How old the catalog is, and which searches would find what it is missing.

Open-weight families release every few months, and a shortlist from a stale catalog silently misses the model
that would have won. Research therefore compares the catalog's `as_of` month with today: when it is more than
`STALE_AFTER_MONTHS` older, the result says so and names the searches to run (`search_web` or the agent's own
search tool) for releases since then, so the agent can add what it finds with its sources
(`research_candidates add=[...]`).
"""

from __future__ import annotations

from datetime import date

STALE_AFTER_MONTHS = 3


def months_between(as_of: str, today: date) -> int | None:
    """Whole months from an `as_of` month (YYYY-MM) to today; None when `as_of` is not a month."""
    try:
        year, month = (int(part) for part in as_of.split("-")[:2])
    except ValueError:
        return None
    return (today.year - year) * 12 + today.month - month


def stale_note(as_of: str, today: date, families: list[str], size: str, domain: str) -> tuple[str, list[str]]:
    """('' , []) while the catalog is fresh; else a note saying how old it is and the searches to run."""
    age = months_between(as_of, today)
    if age is None or age <= STALE_AFTER_MONTHS:
        return "", []
    searches = [
        f"new open-weight LLM release {today:%B %Y}",
        f"best {size} open-weight LLM {today.year} {domain}",
        *(f"{family} new model release {today.year}" for family in families[:4]),
        f"open-weight models released since {as_of} huggingface",
    ]
    note = (
        f"The catalog is from {as_of}, {age} months before today ({today.isoformat()}): models released after "
        f"{as_of} may be missing. Search for newer releases (search_web queries=[...] or your own search tool), "
        "read the publisher's model card, and add what you find with its sources (research_candidates add=[...])."
    )
    return note, searches
