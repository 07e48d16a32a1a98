"""Turning a generator's reply into a clean user message, and keeping the scenario set free of near-duplicates.

Generator models wrap the message they were asked for: "Sure! Here is a message:", quotes, a `User:` label, a
markdown fence, a note on what they did, sometimes the assistant's reply as well. A scenario is the opening user
message only, so all of that is cut. Some replies are unusable (empty, or the model refusing to write the
message); those are recognised so the caller can retry. Two scenarios that say the same thing waste a slot and
skew the pass rate, so each new one is compared with the accepted set: equal after normalisation, or a Jaccard
similarity of word bigrams at or above 0.8, is a duplicate.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from dataclasses import dataclass, field

JACCARD_THRESHOLD = 0.8
MAX_SCENARIO_CHARS = 20_000

_FENCE = re.compile(r"```([A-Za-z]*)[^\n`]*\n(.*?)(?:\n```|\Z)", re.S)
_PROSE_FENCES = {"", "text", "txt", "plaintext", "markdown", "md"}
_LEAD_IN = r"(?:(?:sure|okay|ok|certainly|of course|absolutely|great|alright)\b[!,.]*\s*)?"
# A generator's own framing ("Here is a realistic opening message:"), never a user's ("Here's my query:").
_PREAMBLE = re.compile(
    _LEAD_IN
    + r"(?:(?:here(?:'s| is| are)|below is|this is)\s+(?:a|an|the|one|your)\b[^\n:]{0,100}?"
    + r"\b(?:message|question|request|opening|example|scenario|prompt|input|text|draft)s?\b[^\n:]{0,60}:"
    + r"|here you go[!.:]*|here it is[!.:]*)[ \t]*\n?",
    re.I,
)
_ROLE = re.compile(
    r"^\s*(?:[#>]+\s*)?\**(?:user|customer|client|human|user message|opening message|first message|message|"
    r"question)\**\s*:\s*\**\s*",
    re.I,
)
_REPLY_LABEL = re.compile(r"\n\s*\**(?:assistant|ai assistant|chatbot|bot)\**\s*:", re.I)
_TRAILING_NOTE = re.compile(
    r"\n\s*\n\s*(?:-{3,}\s*\n\s*)?[(\[]?\**(?:note|explanation|why this works|"
    r"this message (?:is|was|tests|covers|includes|uses|reflects))\b.*\Z",
    re.I | re.S,
)
_QUOTES = [('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("«", "»"), ("„", "“")]
_REFUSAL = re.compile(
    r"^(?:(?:i'?m sorry|sorry|i apologi[sz]e|unfortunately)[^.!?\n]{0,40}?)?\s*"
    r"(?:i(?: am|'m)?\s*(?:can(?:no|')t|won'?t|will not|am unable to|'m unable to|unable to|am not able to|"
    r"'m not able to|must decline to|do not feel comfortable|don'?t feel comfortable)\s+"
    r"(?:help(?: you)? with|assist(?: you)? with|comply with|fulfil+|create|write|generate|produce|provide|"
    r"role-?play|pretend)\s+"
    r"(?:(?:that|this|it)(?:\s+(?:request|kind of \w+|type of \w+))?\s*[.!,]|(?:such|this kind of|that kind of|"
    r"this type of) (?:content|messages?|requests?|scenarios?)|(?:content|messages?|scenarios?) "
    r"(?:that|which|about|depicting|involving|related)|(?:your|the|this|that) request)"
    r"|i cannot comply|i can'?t comply"
    r"|(?:i'?m|i am) not comfortable (?:writing|creating|generating|producing))"
    r"|^as an ai\b",
    re.I,
)


def clean_reply(raw: str) -> str:
    """The user message inside a generator reply, or "" when nothing usable is left."""
    text = (raw or "").replace("\r\n", "\n").strip()
    text = re.sub(r"<think>.*?</think>", "", text, flags=re.S | re.I).strip()
    text = _unwrap_fence(text)
    for _ in range(4):  # a preamble, a label and quotes nest in any order
        before = text
        text = _PREAMBLE.sub("", text, count=1).strip() if _PREAMBLE.match(text) else text
        text = _ROLE.sub("", text, count=1).strip()
        text = _unwrap_fence(text)
        text = _strip_quotes(text)
        if text == before:
            break
    reply = _REPLY_LABEL.search(text)
    if reply:
        text = text[: reply.start()].strip()
    text = _TRAILING_NOTE.sub("", text).strip()
    text = _strip_quotes(text)
    return text[:MAX_SCENARIO_CHARS].strip()


def _unwrap_fence(text: str) -> str:
    """A prose fence around the whole message is wrapping; a code block inside a message is content."""
    match = _FENCE.search(text)
    if not match or match.group(1).lower() not in _PROSE_FENCES:
        return text
    outside = (text[: match.start()] + text[match.end() :]).strip()
    if not outside or _PREAMBLE.fullmatch(outside + "\n") or _PREAMBLE.fullmatch(outside):
        return match.group(2).strip()
    return text


def _strip_quotes(text: str) -> str:
    for opening, closing in _QUOTES:
        if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
            inner = text[len(opening) : -len(closing)]
            if opening not in inner or opening != closing:
                return inner.strip()
    return text


def is_refusal(text: str) -> bool:
    """A reply in which the generator declines to write the message (checked on the cleaned text)."""
    first = text.strip()[:300]
    return bool(_REFUSAL.search(first))


def normalise(text: str) -> str:
    """Case-, accent-width- and punctuation-insensitive form used for exact-duplicate detection."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def shingles(text: str) -> frozenset[str]:
    """Word bigrams of the normalised text (single words for one-word texts)."""
    words = normalise(text).split()
    if len(words) < 2:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in itertools.pairwise(words))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def scenario_id(topic: str, subtopic: str | None, style: str | None, edge_case: str | None, text: str) -> str:
    """Stable ID: the same message in the same cell always gets the same ID."""
    key = "\x1f".join([topic, subtopic or "", style or "", edge_case or "", normalise(text)])
    return "s-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


@dataclass
class DedupIndex:
    """The accepted scenarios, searchable for near-duplicates of a new text."""

    threshold: float = JACCARD_THRESHOLD
    _exact: dict[str, str] = field(default_factory=dict)
    _shingles: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    _texts: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._texts)

    def duplicate_of(self, text: str) -> str | None:
        """The ID of an accepted scenario this text duplicates, else None."""
        norm = normalise(text)
        if norm in self._exact:
            return self._exact[norm]
        mine = shingles(text)
        for other_id, theirs in self._shingles:
            if jaccard(mine, theirs) >= self.threshold:
                return other_id
        return None

    def add(self, scenario_id: str, text: str) -> None:
        self._exact.setdefault(normalise(text), scenario_id)
        self._shingles.append((scenario_id, shingles(text)))
        self._texts[scenario_id] = text

    def text(self, scenario_id: str) -> str:
        return self._texts.get(scenario_id, "")
