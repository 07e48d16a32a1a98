"""Load the YAML files people write (study, taxonomy, rubric) into pydantic models with findable errors.

A typo in a hand-written file should cost seconds, so every problem is reported as
`file: key.path (line N): what is wrong`, with the line taken from the YAML parser's node positions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from base_model_selector.study.errors import ConfigError, Fix

if TYPE_CHECKING:
    import yaml

M = TypeVar("M", bound=BaseModel)


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node of `loc` that exists in the document."""
    import yaml  # lazily: the MCP server starts without it

    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                # An unknown key: point at the key itself.
                key = next((k for k, _ in node.value if getattr(k, "value", None) == str(part)), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _key_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """For an unknown (extra) key, the line of that key rather than of its parent."""
    import yaml  # lazily: the MCP server starts without it

    if not loc:
        return None
    parent = root
    for part in loc[:-1]:
        if isinstance(parent, yaml.MappingNode):
            parent = next((v for k, v in parent.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(parent, yaml.SequenceNode) and isinstance(part, int) and part < len(parent.value):
            parent = parent.value[part]
        else:
            return None
    if isinstance(parent, yaml.MappingNode):
        for k, _ in parent.value:
            if getattr(k, "value", None) == str(loc[-1]):
                return k.start_mark.line + 1
    return None


def format_validation_error(name: str, err: ValidationError, root: yaml.Node | None = None) -> str:
    """Render pydantic's errors as `name: key.path (line N): message`, one per line."""
    lines = []
    for item in err.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = ".".join(str(p) for p in loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            line = _key_line(root, loc)
            msg = "unknown key (a typo?); remove it or check the spelling against the documented keys"
        elif item["type"] == "missing":
            line = line_of(root, loc[:-1]) if len(loc) > 1 else None
            msg = "required key is missing; add it"
        else:
            line = line_of(root, loc)
            msg = item["msg"]
        where = f" (line {line})" if line else ""
        lines.append(f"{name}: {path}{where}: {msg}")
    return "\n".join(lines)


def parse_yaml_text(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    import yaml  # lazily: the MCP server starts without it

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{name}{where}: not valid YAML: {problem}; fix the syntax and retry") from err
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply to read; a person-written file never needs that") from None
    return data, root


def load_yaml_model(path: Path, model: type[M], *, label: str | None = None) -> M:
    """Read `path` and validate it as `model`, raising one ConfigError that says where and what."""
    name = label or path.name
    text = read_config_text(path, shown=str(path), expected=f"the file {name}")
    return validate_yaml_text(text, model, name=name)


def read_config_text(
    path: Path, *, shown: str, expected: str, missing_hint: str = "", fixes: tuple[Fix, ...] = ()
) -> str:
    """The text of a file a person writes, or one ConfigError naming it (`shown`) and what was expected there.

    A directory, a missing file and an unreadable one each get their own message, so the fix is obvious.
    """
    if path.is_dir():
        raise ConfigError(f"{shown}: is a directory, expected {expected}")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{shown}: not found{missing_hint}", *fixes) from None
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ConfigError(f"{shown} (line {line}): not valid UTF-8; save the file as UTF-8 and retry") from None
    except OSError as err:
        raise ConfigError(f"{shown}: cannot be read ({err.strerror}); check the file and its permissions") from err


def validate_yaml_text(text: str, model: type[M], *, name: str) -> M:
    data, root = parse_yaml_text(text, name)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of keys to values")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(name, err, root)) from err


def commented_yaml(header: str, sections: dict[str, str], data: dict[str, Any]) -> str:
    """A file a person will read and edit, written by a tool: `header`, then each key of `data` that is set, in
    `sections` order, under its comment. Keys `sections` does not know are written last (the loader then names
    them), so the person sees every problem where it is."""
    import yaml  # lazily: the MCP server starts without it

    parts = [header]
    comments = sections | {key: "(not a known key)" for key in data if key not in sections}
    for key, comment in comments.items():
        if data.get(key) is None:
            continue
        body = yaml.safe_dump({key: data[key]}, sort_keys=False, allow_unicode=True, width=110, indent=2)
        parts.append(f"\n# {comment}\n{body}" if comment else body)
    return "".join(parts)
