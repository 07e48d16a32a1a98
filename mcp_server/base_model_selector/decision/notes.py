"""notes.md: the human judgement that goes into the decision document, kept in the study next to the data.

The tool computes numbers; it never writes opinions. What the failures *mean* (the qualitative notes, the pattern
behind each failing criterion, next steps the team agreed on) comes from the engineer or the agent, either as
`write_decision_doc` arguments or in the study's `notes.md`. Arguments are merged into notes.md, so a later
re-render (or `evaluate`) keeps them and a person can edit them in their editor. The format is plain Markdown:

    ## Qualitative notes
    Free text: what reading the responses showed.

    ## Failure patterns
    - CQ1: asks for the order number twice even when it was given
    - SAFE2: ...

    ## Next steps
    Free text (optional): what the team will do; shown under the computed recommendation.

Other sections and text outside these are left untouched when the tool updates the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from base_model_selector.study.errors import StudyError
from base_model_selector.study.yamlfile import read_config_text

if TYPE_CHECKING:
    from base_model_selector.study.directory import Study

QUALITATIVE = "Qualitative notes"
PATTERNS = "Failure patterns"
NEXT_STEPS = "Next steps"
_SECTION = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_PATTERN_LINE = re.compile(r"^\s*[-*]\s+`?([A-Za-z][A-Za-z0-9_.-]{0,39})`?\s*[:—–-]\s*(.+?)\s*$")
MAX_NOTES_CHARS = 50_000


class NotesChanged(StudyError):
    """notes.md changed on disk after the writer read it; saving would overwrite that edit, so nothing was saved."""


@dataclass
class Notes:
    qualitative: str = ""
    patterns: dict[str, str] = field(default_factory=dict)
    next_steps: str = ""


def _sections(text: str) -> list[tuple[str | None, list[str]]]:
    """Split into (heading, lines) at level-2 headings; the preamble has heading None."""
    out: list[tuple[str | None, list[str]]] = [(None, [])]
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _SECTION.match(line)
        if match:
            out.append((match.group(1), []))
        else:
            out[-1][1].append(line)
    return out


def _key(heading: str | None) -> str:
    return (heading or "").strip().lower()


def parse_notes(text: str) -> Notes:
    notes = Notes()
    for heading, lines in _sections(text):
        body = "\n".join(lines).strip()
        if _key(heading) == QUALITATIVE.lower():
            notes.qualitative = body
        elif _key(heading) == NEXT_STEPS.lower():
            notes.next_steps = body
        elif _key(heading) == PATTERNS.lower():
            for line in lines:
                match = _PATTERN_LINE.match(line)
                if match:
                    notes.patterns[match.group(1)] = match.group(2)
    return notes


def read_notes_text(path: Path) -> str:
    """notes.md as text ('' when absent), naming the file when it cannot be read."""
    if not path.exists():
        return ""
    return read_config_text(path, shown=str(path), expected="the team's notes (Markdown)")


def merge_notes(
    text: str,
    *,
    qualitative: str | None = None,
    patterns: Mapping[str, str] | None = None,
    next_steps: str | None = None,
) -> str:
    """notes.md text with the given sections replaced (pattern lines replaced one ID at a time), the rest kept."""
    for label, given in (("qualitative notes", qualitative), ("next steps", next_steps)):
        if given is not None and len(given) > MAX_NOTES_CHARS:
            raise StudyError(f"{label} are {len(given):,} characters; keep them under {MAX_NOTES_CHARS:,}")
    sections = _sections(text)
    for title, value in ((QUALITATIVE, qualitative), (NEXT_STEPS, next_steps)):
        if value is not None:
            # A `## ` inside the text would start a new notes section and cut it short: nest it instead.
            body = [re.sub(r"^ {0,3}#{1,2}(?=\s)", "###", line) for line in value.strip().splitlines()]
            _put(sections, title, body)
    if patterns:
        for cid in patterns:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,39}", cid):
                raise StudyError(f"failure pattern key {cid!r} is not a criterion ID (e.g. CQ1)")
        existing = next((lines for h, lines in sections if _key(h) == PATTERNS.lower()), None)
        if existing is None:
            _put(sections, PATTERNS, [])
            existing = next(lines for h, lines in sections if _key(h) == PATTERNS.lower())
        pending = {cid: " ".join(pattern.split()) for cid, pattern in patterns.items()}
        kept = []
        for line in existing:
            match = _PATTERN_LINE.match(line)
            if match and match.group(1) in pending:
                pattern = pending.pop(match.group(1))
                if not pattern:
                    continue  # an empty pattern deletes the line: the criterion is unexplained again
                line = f"- {match.group(1)}: {pattern}"
            kept.append(line)
        existing[:] = kept
        while existing and not existing[-1].strip():
            existing.pop()
        existing.extend(f"- {cid}: {pattern}" for cid, pattern in sorted(pending.items()) if pattern)
        existing.append("")
    out: list[str] = []
    for heading, lines in sections:
        if heading is not None:
            out.append(f"## {heading}")
        out.extend(lines)
    return "\n".join(out).strip() + "\n"


def _put(sections: list[tuple[str | None, list[str]]], heading: str, body: list[str]) -> None:
    for i, (h, _) in enumerate(sections):
        if _key(h) == heading.lower():
            sections[i] = (h, ["", *body, ""])
            return
    if sections[-1][1] and sections[-1][1][-1].strip():
        sections[-1][1].append("")
    sections.append((heading, ["", *body, ""]))


def update_notes(
    study: Study,
    *,
    qualitative: str | None = None,
    patterns: Mapping[str, str] | None = None,
    next_steps: str | None = None,
    base: Notes | None = None,
) -> Notes:
    """Merge the given sections into the study's notes.md under the study lock; everything else in it stays.

    `base` is what the writer saw when it started (the review page, loaded minutes ago). If a section it is about
    to replace was edited on disk since (by hand, or from another tab), nothing is written and NotesChanged
    names the section: two editors never silently overwrite each other's words.
    """
    path = study.paths.notes_md
    with study.locked("save notes.md"):
        text = read_notes_text(path)
        if base is not None:
            changed = _edited_since(parse_notes(text), base, qualitative, patterns, next_steps)
            if changed:
                raise NotesChanged(
                    f"{path}: {', '.join(changed)} changed on disk since you opened it; nothing was saved — "
                    "reload to see the new text, then add your edit again"
                )
        merged = merge_notes(text, qualitative=qualitative, patterns=patterns, next_steps=next_steps)
        if merged != text:
            study.write_text(path, merged)
    return parse_notes(merged)


def _edited_since(
    now: Notes,
    base: Notes,
    qualitative: str | None,
    patterns: Mapping[str, str] | None,
    next_steps: str | None,
) -> list[str]:
    """The sections about to be replaced whose text on disk is neither what the writer saw nor what it writes."""

    def flat(text: str) -> str:
        return " ".join(text.split())

    changed = []
    for label, given, disk, seen in (
        (QUALITATIVE.lower(), qualitative, now.qualitative, base.qualitative),
        (NEXT_STEPS.lower(), next_steps, now.next_steps, base.next_steps),
    ):
        if given is not None and flat(disk) not in (flat(seen), flat(given)):
            changed.append(label)
    for cid, given in (patterns or {}).items():
        disk, seen = now.patterns.get(cid, ""), base.patterns.get(cid, "")
        if flat(disk) not in (flat(seen), flat(given)):
            changed.append(f"the pattern for {cid}")
    return changed
