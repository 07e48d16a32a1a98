"""The study directory: where every step reads its inputs and writes its results.

All state is plain files a team can commit: YAML for what people write, JSON/JSONL for what the tool writes.
This module knows the layout, validates study.yaml, keeps writes atomic and under the study lock, and refuses
any path that would escape the study directory or the declared docs path (tool arguments are untrusted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from base_model_selector.study import storage
from base_model_selector.study.config import StudyConfig
from base_model_selector.study.errors import ConfigError, PathRefused, StudyError
from base_model_selector.study.types import Selection
from base_model_selector.study.yamlfile import load_yaml_model

M = TypeVar("M", bound=BaseModel)

DEFAULT_STUDY_DIR = "base-model-eval"
STUDY_FILE = "study.yaml"


def model_slug(tag: str) -> str:
    """A filesystem-safe folder name for a model tag: `qwen3:8b` → `qwen3-8b`."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", tag.strip().lower()).strip("-.")
    if not slug:
        raise StudyError(f"model tag {tag!r} has no usable characters")
    return slug[:120]


@dataclass(frozen=True)
class Layout:
    """Where each step's files live inside a study directory. One place, so nobody hard-codes a path twice."""

    root: Path

    study_yaml = property(lambda self: self.root / STUDY_FILE)
    taxonomy_yaml = property(lambda self: self.root / "taxonomy.yaml")
    rubric_yaml = property(lambda self: self.root / "rubric.yaml")
    notes_md = property(lambda self: self.root / "notes.md")
    user_catalog = property(lambda self: self.root / "catalog.yaml")
    research_dir = property(lambda self: self.root / "research")
    search_cache = property(lambda self: self.root / "research" / "search-cache")
    evidence = property(lambda self: self.root / "research" / "evidence.jsonl")
    candidates = property(lambda self: self.root / "research" / "candidates.json")
    added_candidates = property(lambda self: self.root / "research" / "added-candidates.json")
    fit_overrides = property(lambda self: self.root / "research" / "fit-overrides.json")
    comparison_json = property(lambda self: self.root / "comparison.json")
    comparison_md = property(lambda self: self.root / "comparison.md")
    selection = property(lambda self: self.root / "selection.json")
    plan = property(lambda self: self.root / "scenarios" / "plan.json")
    scenarios = property(lambda self: self.root / "scenarios" / "scenarios.jsonl")
    scenario_attempts = property(lambda self: self.root / "scenarios" / "generated.jsonl")
    lock_file = property(lambda self: self.root / ".study.lock")

    def run_dir(self, model: str) -> Path:
        return self.root / "runs" / model_slug(model)

    def model_facts(self, model: str) -> Path:
        return self.run_dir(model) / "model.json"

    def responses(self, model: str) -> Path:
        return self.run_dir(model) / "responses.jsonl"

    def verdicts(self, model: str) -> Path:
        return self.run_dir(model) / "verdicts.jsonl"

    def assessments(self, model: str) -> Path:
        return self.run_dir(model) / "assessments.json"

    def judge_record(self, model: str, judge: str) -> Path:
        """One judge's coverage and scores (step 6), beside every other judge's: `judge` is its identity."""
        return self.run_dir(model) / "judges" / f"{model_slug(judge)}.json"

    def agreement_verdicts(self, model: str) -> Path:
        """Second judgings of the agreement sample (step 6), kept apart from the verdicts that score."""
        return self.run_dir(model) / "agreement.jsonl"

    def decision(self, model: str) -> Path:
        return self.run_dir(model) / "decision.json"


class Study:
    """An opened, validated study directory."""

    def __init__(self, root: Path, config: StudyConfig):
        self.root = root
        self.config = config
        self.paths = Layout(root)
        self._lock = storage.StudyLock(self.paths.lock_file)

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, directory: str | Path | None = None) -> Study:
        root = Path(directory or DEFAULT_STUDY_DIR).expanduser()
        if root.exists() and not root.is_dir():
            raise StudyError(f"{root}: is a file, not a study directory; pass --study DIR pointing at a directory")
        study_yaml = root / STUDY_FILE
        if not study_yaml.exists():
            raise StudyError(
                f"{study_yaml}: not found; create the study with "
                f'`base-model-selector init {root} --domain "<your domain>"`'
            )
        config = load_yaml_model(study_yaml, StudyConfig, label=str(study_yaml))
        study = cls(root.resolve(), config)
        study.system_prompt()  # fail early on a missing prompt file
        return study

    # ----------------------------------------------------------------- inputs
    def system_prompt(self) -> str:
        cfg = self.config
        if cfg.system_prompt_file:
            path = self.inside(cfg.system_prompt_file)
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ConfigError(
                    f"{self.paths.study_yaml}: system_prompt_file: cannot read {path} ({err.strerror})"
                ) from err
        return (cfg.system_prompt or "").strip()

    def docs_path(self, override: str | None = None) -> Path:
        """The decision document's path: the study's declared docs path, or an override inside the study."""
        declared = (self.root / self.config.docs_path).resolve()
        if override is None:
            return declared
        candidate = Path(override)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = candidate.resolve()
        if resolved == declared or _is_within(resolved, self.root):
            return resolved
        raise PathRefused(
            f"docs path {override!r} resolves to {resolved}, outside the study directory {self.root} and the "
            f"declared docs path {declared}; set docs_path in study.yaml to write elsewhere"
        )

    def inside(self, relative: str | Path) -> Path:
        """Resolve an untrusted path argument, refusing anything outside the study directory."""
        return resolve_inside(self.root, relative)

    # ----------------------------------------------------------------- writes
    @contextmanager
    def locked(self, purpose: str) -> Iterator[None]:
        with self._lock.hold(purpose):
            yield

    def write_json(self, path: Path, obj: Any) -> bool:
        """Every derived JSON file is written here, and only when its content (timestamps aside) changed."""
        return storage.write_json_if_changed(self._checked(path), obj)

    def write_text(self, path: Path, text: str) -> bool:
        """Like write_json for text: an unchanged file keeps its bytes and its modification time."""
        return storage.write_text_if_changed(self._checked(path), text)

    def append(self, path: Path, records: Iterable[Any]) -> int:
        return storage.append_jsonl(self._checked(path), records)

    def _checked(self, path: Path) -> Path:
        resolved = path.resolve()
        if _is_within(resolved, self.root) or resolved == self.docs_path():
            return resolved
        raise PathRefused(f"refusing to write {resolved}: outside the study directory {self.root}")

    # ----------------------------------------------------------------- reads
    def read_json(self, path: Path, model: type[M]) -> M | None:
        return storage.read_json(path, model) if path.exists() else None

    def read_jsonl(self, path: Path, model: type[M]) -> storage.JsonlRead:
        return storage.read_jsonl(path, model)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def resolve_inside(root: Path, relative: str | Path) -> Path:
    """`root / relative`, resolved through symlinks; refused when it leaves `root`."""
    text = str(relative)
    if "\x00" in text:
        raise PathRefused(f"path {text!r} contains a NUL byte")
    root = root.resolve()
    candidate = Path(text).expanduser()
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not _is_within(resolved, root):
        raise PathRefused(
            f"path {text!r} resolves to {resolved}, outside the study directory {root}; use a path inside the study"
        )
    return resolved


def init_study(
    directory: str | Path,
    *,
    domain: str,
    use_case: str = "",
    size_min: float = 7,
    size_max: float = 10,
    commercial_use: bool = True,
    system_prompt: str = "You are a helpful assistant.",
    max_turns: int = 1,
    force: bool = False,
) -> Path:
    """Write a commented study.yaml that a person can edit; never overwrite one unless `force`."""
    from base_model_selector.study import templating

    root = Path(directory).expanduser()
    if root.exists() and not root.is_dir():
        raise StudyError(f"{root}: is a file; choose a directory for the study")
    study_yaml = root / STUDY_FILE
    if study_yaml.exists() and not force:
        raise StudyError(f"{study_yaml}: already exists; edit it, or pass --force to replace it")
    text = templating.render(
        "study.yaml.j2",
        domain=domain.strip(),
        use_case=use_case.strip(),
        size_min=size_min,
        size_max=size_max,
        commercial_use=str(commercial_use),
        system_prompt=system_prompt.strip() or "You are a helpful assistant.",
        max_turns=max_turns,
    )
    # Validate what we are about to write, so init can never produce a study that fails to load.
    from base_model_selector.study.yamlfile import validate_yaml_text

    validate_yaml_text(text, StudyConfig, name=str(study_yaml))
    try:
        root.mkdir(parents=True, exist_ok=True)
        storage.atomic_write_text(study_yaml, text)
    except OSError as err:
        raise StudyError(f"{root}: not writable ({err.strerror}); choose another directory") from err
    return study_yaml


def active_model(study: Study, override: str | None = None) -> str | None:
    """The model under test: an explicit one, else the GGUF study.yaml names (`backend.model`, llamacpp), else the
    primary chosen in step 2.

    `backend.model` comes before the selection because it is the more specific statement: a selection names the
    candidate (and its Ollama tag), `backend.model` the very file to run.
    """
    override = (override or "").strip()
    if override:
        return override
    if study.config.backend.model:
        return study.config.backend.model.strip()
    selection = study.read_json(study.paths.selection, Selection)
    if selection is None:
        return None
    return selection.primary.ollama_tag or selection.primary.name
