"""Reading a judge's reply: lenient about how the JSON is written, strict about what it says.

Grammar-constrained servers do not always produce JSON that Python's strict parser accepts: llama.cpp's grammar
lets a raw newline or tab into a string, and a server without structured output may wrap the object in a Markdown
fence or a sentence. None of that changes the verdict, so the reply is read leniently — control characters inside
strings are allowed, a fence or surrounding prose is stripped — and then held to the schema exactly: the keys, a
non-empty reasoning, and an answer of YES, NO or NA (a lowercase `yes` is still wrong; guessing would let a
misbehaving judge pass items).

Contract: `parse_single(text) -> (Answer, reasoning)`, `parse_batch(text, ids) -> {id: (Answer, reasoning)}`;
both raise `ReplyInvalid` with what is wrong, which the judge shows the model in its one repair attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from base_model_selector.study.types import Answer

JUDGED_ANSWERS = ("YES", "NO", "NA")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


class ReplyInvalid(ValueError):
    """The judge's reply does not fit the schema; the message says how."""


def load_reply(text: str) -> Any:
    """The JSON value in a reply: as written, else inside a Markdown fence, else the outermost {...} in it.
    Raw control characters inside strings (a newline a grammar let through) are accepted."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1)
    try:
        return json.loads(candidate, strict=False)
    except ValueError as err:
        problem = err
    start, end = candidate.find("{"), candidate.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(candidate[start : end + 1], strict=False)
        except ValueError:
            pass
    raise ReplyInvalid(f"not valid JSON ({problem})")


def parse_verdict(value: Any, where: str = "the reply") -> tuple[Answer, str]:
    if not isinstance(value, dict):
        raise ReplyInvalid(f"{where} is not a JSON object")
    extra = sorted(set(value) - {"reasoning", "answer"})
    if extra:
        raise ReplyInvalid(f"{where} has unexpected keys {extra}")
    reasoning, answer = value.get("reasoning"), value.get("answer")
    if not isinstance(reasoning, str) or not reasoning.strip():
        raise ReplyInvalid(f"{where} has no reasoning")
    if answer not in JUDGED_ANSWERS:
        raise ReplyInvalid(f"{where} has answer {answer!r}; expected YES, NO or NA")
    return Answer(answer), reasoning.strip()


def parse_single(text: str) -> tuple[Answer, str]:
    return parse_verdict(load_reply(text))


def parse_batch(text: str, ids: Sequence[str]) -> dict[str, tuple[Answer, str]]:
    value = load_reply(text)
    if not isinstance(value, dict):
        raise ReplyInvalid("the reply is not a JSON object")
    missing = [i for i in ids if i not in value]
    extra = sorted(set(value) - set(ids))
    if missing or extra:
        raise ReplyInvalid(f"criteria missing {missing}, unexpected {extra}")
    return {i: parse_verdict(value[i], f"criterion {i}") for i in ids}
