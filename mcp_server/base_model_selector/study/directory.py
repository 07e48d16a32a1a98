"""The study directory: where every step reads its inputs and writes its results.

All state is plain files a team can commit: YAML for what people write, JSON/JSONL for what the tool writes.
This module knows the layout, validates study.yaml, keeps writes atomic and under the study lock, and refuses
any path that would escape the study directory or the declared docs path (tool arguments are untrusted).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from base_model_selector.study import storage
from base_model_selector.study.config import BackendKind, StudyConfig
from base_model_selector.study.errors import ConfigError, Fix, PathRefused, StudyError, from_os_error
from base_model_selector.study.examples import example_files
from base_model_selector.study.settings import MISSING, apply_settings
from base_model_selector.study.types import Selection
from base_model_selector.study.yamlfile import load_yaml_model

M = TypeVar("M", bound=BaseModel)

DEFAULT_STUDY_DIR = "base-model-eval"
STUDY_FILE = "study.yaml"


def plain_path(text: str | Path, what: str) -> str:
    """`text` if it can name a file: a NUL byte (which no filesystem allows, and which an agent's argument may
    carry) is refused naming the argument, instead of failing deep inside the OS call."""
    text = str(text)
    if "\x00" in text:
        raise PathRefused(f"{what} {text!r} contains a NUL byte; pass a plain path")
    return text


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
        root = Path(plain_path(directory or DEFAULT_STUDY_DIR, "study directory")).expanduser()
        if root.exists() and not root.is_dir():
            raise StudyError(
                f"{root}: is a file, not a study directory",
                Fix("study_status", "pass --study DIR pointing at a directory", {"study": "<a study directory>"}),
            )
        study_yaml = root / STUDY_FILE
        if not study_yaml.exists():
            raise StudyError(f"{study_yaml}: not found; create the study first", *ways_to_create(root))
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
        candidate = Path(plain_path(override, "docs path"))
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

    def readable(self, path: str | Path, *, also: Path) -> Path:
        """A file an untrusted caller names to read: inside the study or inside `also` (the client's working
        directory), nowhere else. A relative path is looked up in the study first, then in `also`."""
        path = plain_path(path, "path")
        try:
            inside_study = resolve_inside(self.root, path)
        except PathRefused:
            inside_study = None
        if inside_study is not None and (inside_study.exists() or Path(str(path)).is_absolute()):
            return inside_study
        try:
            return resolve_inside(also, path)
        except PathRefused:
            raise PathRefused(
                f"path {str(path)!r} is outside the study directory {self.root} and the working directory "
                f"{also.resolve()}; copy the file into one of them"
            ) from None

    # ----------------------------------------------------------------- writes
    @contextmanager
    def locked(self, purpose: str) -> Iterator[None]:
        """Hold the study lock for a synchronous write (a worker thread or the CLI may wait in it)."""
        with self._lock.hold(purpose):
            yield

    @asynccontextmanager
    async def locked_async(self, purpose: str) -> AsyncIterator[None]:
        """Hold the study lock from async code: the wait never blocks the event loop."""
        async with self._lock.hold_async(purpose):
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
    text = plain_path(relative, "path")
    root = root.resolve()
    candidate = Path(text).expanduser()
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not _is_within(resolved, root):
        raise PathRefused(
            f"path {text!r} resolves to {resolved}, outside the study directory {root}; use a path inside the study"
        )
    return resolved


def ways_to_create(root: Path) -> tuple[Fix, Fix]:
    """How a study is created: from a domain, or from an example study."""
    return (
        Fix(
            "init_study",
            f'base-model-selector init {root} --domain "<your domain>"',
            {"study": str(root), "domain": "<your domain>"},
        ),
        Fix(
            "init_study",
            f"base-model-selector init {root} --example customer-support",
            {"study": str(root), "example": "customer-support"},
        ),
    )


def init_study(
    directory: str | Path,
    *,
    domain: str | None = None,
    use_case: str | None = None,
    size_min: float | None = None,
    size_max: float | None = None,
    commercial_use: bool | None = None,
    system_prompt: str | None = None,
    max_turns: int | None = None,
    tokens_per_message: int | None = None,
    judge_mode: str | None = None,
    judge_model: str | None = None,
    backend_kind: BackendKind | None = None,
    hosts: list[str] | None = None,
    parallel: int | None = None,
    n_scenarios: int | None = None,
    settings: Mapping[str, Any] | None = None,
    example: str | None = None,
    force: bool = False,
) -> Path:
    """Write a commented study.yaml a person can edit (never overwriting one unless `force`), and return its path.

    It starts from the commented template (`domain` is then required) or from an example study's files
    (`example`, whose taxonomy, rubric and system prompt come along). Every key a person sets at creation can be
    given: the named arguments, and any other study.yaml key in `settings` by its dotted name (`judge.model`).
    Everything is validated before anything is written, so init never leaves a study that fails to load.
    """
    from base_model_selector.study import templating

    root = Path(plain_path(directory, "study directory")).expanduser()
    if root.exists() and not root.is_dir():
        raise StudyError(f"{root}: is a file; choose a directory for the study")
    study_yaml = root / STUDY_FILE
    if study_yaml.exists() and not force:
        raise StudyError(
            f"{study_yaml}: already exists",
            Fix("configure_study", "edit it, or pass --force to replace it", {"study": str(root), "settings": {}}),
        )
    named = {
        "domain": domain,
        "use_case": use_case,
        "size_b.min": size_min,
        "size_b.max": size_max,
        "commercial_use": commercial_use,
        "system_prompt": system_prompt,
        "max_turns": max_turns,
        "tokens_per_message": tokens_per_message,
        "judge.mode": judge_mode,
        "judge.model": judge_model,
        "backend.kind": backend_kind,
        "backend.hosts": hosts,
        "backend.parallel": parallel,
        "scenarios.n": n_scenarios,
    }
    overrides: dict[str, Any] = {k: v.strip() if isinstance(v, str) else v for k, v in named.items() if v is not None}
    if system_prompt is not None:
        overrides["system_prompt_file"] = None  # an example keeps its prompt in a file; the given one replaces it
    others: dict[str, Path] = {}
    if example:
        others = example_files(example)
        text = others.pop(STUDY_FILE).read_text(encoding="utf-8")
        clash = next((root / f for f in others if (root / f).exists()), None)
        if clash is not None and not force:
            raise StudyError(f"{clash}: already exists; choose an empty directory, or pass --force to replace it")
    elif not (domain or "").strip():
        raise ConfigError(
            "a new study needs a domain (what the model must be good at) or an example to start from",
            *ways_to_create(root),
        )
    else:
        text = templating.render(
            "study.yaml.j2",
            domain=overrides.pop("domain"),
            use_case=overrides.pop("use_case", ""),
            size_min=overrides.pop("size_b.min", 7),
            size_max=overrides.pop("size_b.max", 10),
            commercial_use=str(overrides.pop("commercial_use", True)),
            system_prompt=overrides.pop("system_prompt", "") or "You are a helpful assistant.",
            max_turns=overrides.pop("max_turns", 1),
        )
        overrides.pop("system_prompt_file", None)
    text, config = apply_settings(text, {**overrides, **(settings or {})}, name=str(study_yaml))
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, source in others.items():
            storage.atomic_write_text(root / name, source.read_text(encoding="utf-8"))
        Study(root.resolve(), config).system_prompt()  # a prompt file named in settings must exist
        storage.atomic_write_text(study_yaml, text)
    except OSError as err:
        raise from_os_error(err) from err
    return study_yaml


class Change(BaseModel):
    before: Any = None
    after: Any = None


class Configured(BaseModel):
    """What configure_study changed in study.yaml."""

    study_yaml: str
    changed: dict[str, Change] = Field(description="Dotted key → its value before and after")
    next_action: str

    def summary(self) -> str:
        lines = [f"Updated {self.study_yaml} (comments kept):" if self.changed else f"{self.study_yaml}: no change."]
        lines += [f"  {key}: {c.before!r} → {c.after!r}" for key, c in self.changed.items()]
        lines.append(f"Next: {self.next_action}")
        return "\n".join(lines)


def configure_study(directory: str | Path, settings: Mapping[str, Any]) -> Configured:
    """Set study.yaml keys by their dotted names, validated by the study schema, keeping the file's comments.

    The current file need not be valid (this is how a broken key gets fixed); the result must be, or nothing
    is written and the error names the key.
    """
    import yaml

    from base_model_selector.study.settings import flatten, read_key

    root = Path(plain_path(directory, "study directory")).expanduser()
    study_yaml = root / STUDY_FILE
    if not study_yaml.is_file():
        raise StudyError(f"{study_yaml}: not found; create the study first", *ways_to_create(root))
    text = study_yaml.read_text(encoding="utf-8")
    new_text, config = apply_settings(text, settings, name=str(study_yaml))
    before, after = (yaml.safe_load(t) or {} for t in (text, new_text))
    changed = {}
    for key in flatten(settings):
        old, new = read_key(before, key.split(".")), read_key(after, key.split("."))
        if old != new:
            changed[key] = Change(before=None if old is MISSING else old, after=new)
    study = Study(root.resolve(), config)
    study.system_prompt()  # a prompt file named in settings must exist
    if changed:
        with study.locked("configuring the study"):
            storage.atomic_write_text(study_yaml, new_text)
    return Configured(
        study_yaml=str(study_yaml),
        changed=changed,
        next_action="call study_status to see what the change affects (CLI: status)",
    )


def active_model(study: Study, override: str | None = None) -> str | None:
    """The model under test: an explicit one, else the GGUF study.yaml names (`backend.model`, llamacpp), else the
    primary chosen in step 2.

    `backend.model` comes before the selection because it is the more specific statement: a selection names the
    candidate (and its Ollama tag), `backend.model` the very file to run.
    """
    override = (override or "").strip()
    if override:
        if any(unicodedata.category(ch)[0] == "C" for ch in override):
            raise StudyError(f"model tag {override!r} contains control characters; pass the tag `ollama list` shows")
        return override
    if study.config.backend.model:
        return study.config.backend.model.strip()
    selection = study.read_json(study.paths.selection, Selection)
    if selection is None:
        return None
    return selection.primary.ollama_tag or selection.primary.name
