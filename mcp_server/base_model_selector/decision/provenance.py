"""Where a decision document comes from: its study, the files it was rendered from, and how to reproduce it.

A decision document is committed and read long after it was written, so it carries its provenance: the sha256
of every study file it rests on (taken as written, notes.md included), the settings as recorded when each step
ran (the judge the decision rests on, the model that actually wrote the scenarios), and a last-line marker
naming the study it belongs to and the decision and notes it was rendered from. The marker lets status tell when
the document is stale and stops two studies that share a docs path from silently overwriting each other's.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from importlib import metadata
from pathlib import Path

from base_model_selector.decision.decide import Decision
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StudyError
from base_model_selector.study.storage import read_jsonl
from base_model_selector.study.types import Scenario

MARKER = re.compile(
    r"^<!-- base-model-selector: study=(?P<study>\S+) decision-sha256=(?P<decision>\S+) "
    r"notes-sha256=(?P<notes>\S+) -->$",
    re.MULTILINE,
)
ABSENT = "(absent)"


def sha256_file(path: Path) -> str:
    if not path.is_file():
        return ABSENT
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str | None) -> str:
    return ABSENT if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def study_files(study: Study, model: str) -> list[Path]:
    p = study.paths
    files = [p.study_yaml]
    if study.config.system_prompt_file:
        files.append(study.inside(study.config.system_prompt_file))
    files += [p.taxonomy_yaml, p.rubric_yaml, p.notes_md, p.selection, p.scenarios, p.model_facts(model)]
    files += [p.responses(model), p.verdicts(model), p.assessments(model), p.decision(model)]
    return files


def file_hashes(study: Study, model: str, *, notes_text: str | None) -> list[tuple[str, str]]:
    """(path relative to the study, sha256) of every file the document rests on; notes.md as it will be written."""
    out = []
    for path in study_files(study, model):
        name = str(path.relative_to(study.root)) if path.is_relative_to(study.root) else path.name
        digest = sha256_text(notes_text) if path == study.paths.notes_md else sha256_file(path)
        out.append((name, digest))
    return out


def generator_as_recorded(study: Study) -> str:
    """Who wrote the scenarios, from the records of the run that wrote them (never re-derived from the config)."""
    from base_model_selector.scenarios.generate import ScenarioAttempt

    scenarios = read_jsonl(study.paths.scenarios, Scenario).records
    accepted: dict[tuple[str, str], str] = {}
    for attempt in read_jsonl(study.paths.scenario_attempts, ScenarioAttempt).records:
        if attempt.outcome == "accepted":
            accepted[(attempt.slot, attempt.cleaned)] = attempt.model
    writers: Counter[str] = Counter()
    for s in scenarios:
        if s.origin == "generated":
            model = accepted.get((s.slot or "", s.text))
            writers[f"generator {model}" if model else "a generator not recorded in generated.jsonl"] += 1
        else:
            writers[{"file": "from a file", "agent": "from an agent"}[s.origin]] += 1
    if not writers:
        return "none yet"
    return "; ".join(f"{who} ({n})" for who, n in sorted(writers.items(), key=lambda kv: (-kv[1], kv[0])))


def backend_text(backend: BackendConfig) -> str:
    """The backend kind; for llama.cpp in-process also its settings and the binding's version, which shape replies."""
    if backend.kind != "llamacpp":
        return backend.kind
    try:
        binding = f"llama-cpp-python {metadata.version('llama-cpp-python')}"
    except metadata.PackageNotFoundError:
        binding = "llama-cpp-python not installed"
    threads = backend.n_threads or "default"
    return (
        f"llamacpp ({binding}; n_ctx={backend.n_ctx or 'auto'}, n_threads={threads}, "
        f"n_gpu_layers={backend.n_gpu_layers})"
    )


def reproducibility(
    study: Study, model: str, decision: Decision, version: str, digest: str | None
) -> list[tuple[str, str]]:
    """The settings a reader needs to reproduce the run, as recorded by the steps that used them."""
    cfg = study.config
    g, s = cfg.generation, cfg.scenarios
    prompt = study.system_prompt()
    judge = decision.judge
    settings = ", ".join(f"{k}={v}" for k, v in judge.settings.items() if k not in ("model", "digest"))
    return [
        ("Model", model),
        ("Model digest", decision.digest or digest or "unknown"),
        ("Backend", backend_text(cfg.backend)),
        *server_rows(study, model),
        (
            "Generation options",
            f"temperature={g.temperature}, seed={g.seed}, num_predict={g.num_predict}, num_ctx={g.num_ctx}, "
            f"think={g.think}",
        ),
        ("System prompt sha256", hashlib.sha256(prompt.encode()).hexdigest()),
        ("Scenarios", f"n={s.n}, seed={s.seed}; {generator_as_recorded(study)}"),
        ("Judge", judge.judge + (f" ({settings})" if settings else "")),
        ("Pass rule", f"response score ≥ {decision.pass_threshold} and no gate failed"),
        (
            "Decision thresholds",
            f"sufficient={decision.thresholds.sufficient}, fine_tune={decision.thresholds.fine_tune}",
        ),
        ("Decided at", decision.decided_at),
        ("Tool version", f"base-model-selector {version}"),
    ]


def server_rows(study: Study, model: str) -> list[tuple[str, str]]:
    """The server as the check recorded it (model.json): what answered, and whether its replies can be reproduced
    from the seed, with the prompt-cache setting that decides it on llama.cpp."""
    from base_model_selector.study.types import ModelFacts

    facts = study.read_json(study.paths.model_facts(model), ModelFacts)
    server = facts.server if facts is not None else None
    if server is None:
        return []
    version = f" {server.version}" if server.version else ""
    context = f"{server.context_tokens} tokens per request" if server.context_tokens else "context not reported"
    return [
        ("Server", f"{server.kind}{version}; {context}; structured output: {server.structured_output or 'not probed'}"),
        ("Seed-reproducible replies", f"{server.seed_reproducible}: {server.reproducibility}"),
        (
            "Prompt cache",
            f"{server.prompt_cache} (backend.cache_prompt: {str(study.config.backend.cache_prompt).lower()})",
        ),
    ]


def marker(study: Study, target: Path, *, decision_sha256: str, notes_sha256: str) -> str:
    """The document's last line: the study it belongs to (relative to the document) and what it was made from."""
    where = Path(os.path.relpath(study.root, target.parent)).as_posix()
    return f"<!-- base-model-selector: study={where} decision-sha256={decision_sha256} notes-sha256={notes_sha256} -->"


def read_marker(path: Path) -> dict[str, str] | None:
    """The marker of an existing document, or None (absent, unreadable, or written before markers existed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = list(MARKER.finditer(text))
    return found[-1].groupdict() if found else None


def owner(path: Path) -> Path | None:
    """The study directory an existing document says it belongs to."""
    found = read_marker(path)
    return (path.parent / found["study"]).resolve() if found else None


def refuse_foreign(study: Study, target: Path) -> None:
    """Refuse to overwrite a document that belongs to another study, naming the fix."""
    other = owner(target)
    if other is not None and other != study.root.resolve():
        raise StudyError(
            f"{target}: belongs to the study {other} (its last line says so); two studies would overwrite each "
            f"other's decision document — set docs_path in {study.paths.study_yaml} to a path of this study's own, "
            f"e.g. docs_path: docs/base-model-evaluation.md (inside the study)"
        )
