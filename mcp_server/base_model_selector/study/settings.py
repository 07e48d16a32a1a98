"""The keys of study.yaml as something a tool can set: `judge.model`, `backend.hosts`, `scenarios.n`.

An agent without file tools, or a person at `init`, sets study.yaml keys by their dotted names. Every key is
checked against the same pydantic schema the file is loaded with (`StudyConfig`), so an unknown key is refused
with its name (and the nearest real key), and a bad value fails exactly as it would in the file, naming the key
and line. The text is edited in place (yamledit), so the person's comments stay.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from base_model_selector.study.config import StudyConfig
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.yamledit import MISSING, read_key, set_keys
from base_model_selector.study.yamlfile import validate_yaml_text

__all__ = ["MISSING", "apply_settings", "check_keys", "flatten", "read_key", "setting_keys"]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def setting_keys(model: type[BaseModel] = StudyConfig, prefix: str = "") -> dict[str, str]:
    """Every settable dotted key of study.yaml, with its description."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is not None:
            keys |= setting_keys(nested, f"{prefix}{name}.")
        else:
            keys[f"{prefix}{name}"] = field.description or ""
    return keys


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"judge": {"model": "x"}}` and `{"judge.model": "x"}` both as `{"judge.model": "x"}`.

    A mapping is spread into its keys only where study.yaml has a section (judge, backend, …), so a section
    given whole still keeps the comments of the keys it does not mention.
    """
    known = setting_keys()
    sections = {k.rsplit(".", 1)[0] for k in known if "." in k}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        dotted = f"{prefix}{str(key).strip()}"
        if isinstance(value, Mapping) and dotted in sections:
            out |= flatten(value, f"{dotted}.")
        else:
            out[dotted] = value
    return out


def check_keys(keys: list[str], *, where: str) -> None:
    """Refuse keys study.yaml does not have, naming each with the nearest real key."""
    known = setting_keys()
    problems = []
    for key in keys:
        if key in known:
            continue
        near = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(f"{where}: {key!r} is not a study.yaml key{hint}")
    if problems:
        raise ConfigError("\n".join(problems) + f"\nKnown keys: {', '.join(known)}")


def apply_settings(text: str, settings: Mapping[str, Any], *, name: str) -> tuple[str, StudyConfig]:
    """study.yaml's text with `settings` applied (comments kept), validated as the file would be."""
    flat = flatten(settings)
    check_keys(list(flat), where=name)
    new_text = set_keys(text, flat, name=name) if flat else text
    return new_text, validate_yaml_text(new_text, StudyConfig, name=name)
