"""An example study prepared for `evaluate` against the loopback Ollama, and a scripted model for every role.

The scripted model answers as the generator (a user message), the candidate (a reply) and the judge (a
schema-valid verdict, about one NO in six), each derived from a hash of the request so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from base_model_selector.study.directory import Study
from example_studies import copy_example

CANDIDATE = "gemma3:270m"  # pullable, not present: evaluate must pull it
JUDGE = "llama3.1:8b"
_VOCABULARY = (
    "invoice refund login export bank stripe crash sync reminder currency payroll owner template tax csv api key "
    "android iphone slow error duplicate vat plan trial upgrade downgrade cancel charge receipt backup code phone "
    "team role access report balance shopify zapier webhook limit pdf logo overdue client email spam bounce"
)
WORDS = _VOCABULARY.split()


def scripted(request: dict[str, Any]) -> Any:
    """Judge → a schema-valid verdict (about one NO in six); baseline → an answer; generator → a user message."""
    messages = request["messages"]
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).digest()
    if isinstance(request.get("format"), dict):
        answer = "NO" if digest[0] < 43 else "YES"
        why = "The reply ignores the refund policy." if answer == "NO" else "The reply meets the criterion."
        return {"reasoning": why, "answer": answer}
    rng = random.Random(digest)
    if messages[0]["role"] == "system":
        return "Thanks for reaching out! " + " ".join(rng.choice(WORDS) for _ in range(25)) + "."
    return "my " + " ".join(rng.choice(WORDS) for _ in range(14)) + "?"


def prepared_study(root: Path, url: str, example: str = "customer-support", n: int = 8) -> Study:
    copy_example(example, root)
    study_yaml = root / "study.yaml"
    text = study_yaml.read_text(encoding="utf-8")
    for old, new in (
        ("hosts: []", f'hosts: ["{url}"]'),
        ("n: 50", f"n: {n}"),
        ("model: null", f'model: "{JUDGE}"'),
        ("max_retries: 4", "max_retries: 1"),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    study_yaml.write_text(text, encoding="utf-8")
    return Study.open(root)


def edited(study: Study, *replacements: tuple[str, str]) -> Study:
    """The study reopened after replacing text in its study.yaml (each `old` must be there)."""
    path = study.paths.study_yaml
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return Study.open(study.root)
