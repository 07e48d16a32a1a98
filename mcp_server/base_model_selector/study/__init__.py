"""The study core: the study directory and its files, crash-safe storage, YAML loading, config, the
pydantic types every step exchanges, and the error hierarchy. Every step builds on it; it imports no step.

`Study` and `init_study` are re-exported here because they are the names everything starts from.
"""

from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study, active_model, init_study

__all__ = ["DEFAULT_STUDY_DIR", "Study", "active_model", "init_study"]
