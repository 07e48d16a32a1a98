"""An example study prepared for `evaluate` against the loopback Ollama, and a scripted model for every role.

The scripted model (fakes/roles.py) answers as the generator (a user message), the candidate (a reply) and the
judge (a schema-valid verdict, about one NO in six), each derived from a hash of the request so a run is
reproducible.
"""

from __future__ import annotations

from pathlib import Path

from base_model_selector.study.directory import Study
from example_studies import copy_example
from fakes.roles import study_roles

CANDIDATE = "gemma3:270m"  # pullable, not present: evaluate must pull it
JUDGE = "llama3.1:8b"
scripted = study_roles  # the generator, the candidate and the judge in one loopback model


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
