"""One loopback model that plays every part of a study: scenario writer, model under test, and judge.

End-to-end tests and benchmarks run whole studies against `FakeOllama`; this responder tells the three kinds of
request apart and answers each plausibly, deterministically (seeded by a hash of the messages), so a run is
repeatable and a re-run can be checked to make no new calls.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

_VOCABULARY = (
    "invoice refund login export bank stripe crash sync reminder currency payroll owner template tax csv api key "
    "android iphone slow error duplicate vat plan trial upgrade downgrade cancel charge receipt backup code phone "
    "team role access report balance shopify zapier webhook limit pdf logo overdue client email spam bounce"
)
WORDS = _VOCABULARY.split()


def study_roles(request: dict[str, Any]) -> Any:
    """Judge → a schema-valid verdict (about one NO in six); baseline → an answer; generator → a user message."""
    messages = request["messages"]
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).digest()
    if isinstance(request.get("format"), dict) or request.get("response_format"):  # Ollama's, or OpenAI's
        answer = "NO" if digest[0] < 43 else "YES"
        why = "The reply ignores the refund policy." if answer == "NO" else "The reply meets the criterion."
        return {"reasoning": why, "answer": answer}
    rng = random.Random(digest)
    if messages[0]["role"] == "system":
        return "Thanks for reaching out! " + " ".join(rng.choice(WORDS) for _ in range(25)) + "."
    return "my " + " ".join(rng.choice(WORDS) for _ in range(14)) + "?"
