"""Set keys in a YAML file a person wrote, keeping every comment and every other line as it was.

study.yaml is commented for the person who edits it; a tool that rewrote it through a YAML dumper would strip
the comments (a round-trip library such as ruamel is not a dependency). So a key is set by editing its text in
place: the value's span, found from the YAML parser's node positions, is replaced by the new value; a key that
is missing is inserted as a new line under its parent, indented like its siblings. Every edit is checked by
parsing the result and comparing the value read back with the value meant, so a surprise in the file becomes an
error, never a silently different study.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from base_model_selector.study.errors import ConfigError

if TYPE_CHECKING:
    import yaml

MISSING = object()


class _Unusual(Exception):
    """The file is laid out in a way this editor does not handle at the key (a flow mapping on the path)."""


def set_keys(text: str, values: Mapping[str, Any], *, name: str) -> str:
    """`text` with each dotted key of `values` (`judge.model`) set to its JSON-like value."""
    for key, value in values.items():
        text = _set_one(text, key.split("."), value, name)
    return text


def read_key(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def _set_one(text: str, parts: list[str], value: Any, name: str) -> str:
    import yaml  # lazily: the MCP server starts without it

    try:
        edited = _edit(text, yaml.compose(text, Loader=yaml.SafeLoader), parts, value)
        back = read_key(yaml.safe_load(edited), parts)
    except (yaml.YAMLError, _Unusual):
        back = MISSING
    if back != value:
        raise ConfigError(
            f"{name}: could not set {'.'.join(parts)} in place (the file's layout is unusual there); "
            "edit that key by hand"
        )
    return edited


def _edit(text: str, node: yaml.Node | None, parts: list[str], value: Any) -> str:
    import yaml

    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
        body = "\n".join(_block(parts, value, 0))
        return (text.rstrip("\n") + "\n" if text.strip() else "") + body + "\n"
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise _Unusual
    for key_node, value_node in node.value:
        if getattr(key_node, "value", None) != parts[0]:
            continue
        if len(parts) > 1 and isinstance(value_node, yaml.MappingNode) and not value_node.flow_style:
            return _edit(text, value_node, parts[1:], value)
        start = _after_colon(text, key_node)
        end = value_node.end_mark.index
        if text[start:end].endswith("\n"):  # a block value: keep the blank lines that follow it
            end = start + len(text[start:end].rstrip("\n")) + 1
        column = key_node.start_mark.column
        nested = _nest(parts[1:], value, _existing(text, value_node))
        original = text[start:end]
        if isinstance(nested, str) and "\n" in nested and original.endswith("\n") and _literal_ok(nested):
            new = " |-\n" + "\n".join(" " * (column + 2) + line if line else "" for line in nested.split("\n")) + "\n"
        elif isinstance(nested, dict) and nested and original.strip() in ("", "~", "null", "{}"):
            new = "\n" + "\n".join(_block_mapping(nested, column + 2)) + ("\n" if original.endswith("\n") else "")
        else:
            new = " " + _inline(nested) + ("\n" if original.endswith("\n") else "")
        return text[:start] + new + text[end:]
    # The key is missing: insert it after the mapping's last entry, indented like the first key.
    column = node.value[0][0].start_mark.column if node.value else 0
    last = node.value[-1][1] if node.value else node
    at = last.end_mark.index
    if at and text[at - 1] != "\n":
        newline = text.find("\n", at)
        at = len(text) if newline < 0 else newline + 1
    prefix = "" if at == 0 or text[at - 1] == "\n" else "\n"
    return text[:at] + prefix + "\n".join(_block(parts, value, column)) + "\n" + text[at:]


def _existing(text: str, node: yaml.Node) -> Any:
    import yaml

    try:
        return yaml.safe_load(text[node.start_mark.index : node.end_mark.index])
    except yaml.YAMLError:
        return None


def _nest(parts: list[str], value: Any, existing: Any) -> Any:
    """The whole new value of a key when a dotted path below it is set (its other contents kept)."""
    if not parts:
        return value
    base = dict(existing) if isinstance(existing, dict) else {}
    base[parts[0]] = _nest(parts[1:], value, base.get(parts[0]))
    return base


def _after_colon(text: str, key_node: yaml.Node) -> int:
    at = key_node.end_mark.index
    colon = text.find(":", at)
    return at if colon < 0 else colon + 1


def _block(parts: list[str], value: Any, column: int) -> list[str]:
    pad = " " * column
    if len(parts) == 1:
        if isinstance(value, dict) and value:
            return [f"{pad}{parts[0]}:", *_block_mapping(value, column + 2)]
        return [f"{pad}{parts[0]}: {_inline(value)}"]
    return [f"{pad}{parts[0]}:", *_block(parts[1:], value, column + 2)]


def _block_mapping(mapping: Mapping[str, Any], column: int) -> list[str]:
    lines: list[str] = []
    for key, value in mapping.items():
        lines += _block([str(key)], value, column)
    return lines


def _literal_ok(text: str) -> bool:
    """Whether `text` survives a `|-` block literal unchanged."""
    return not text.endswith("\n") and not text[:1].isspace() and "\r" not in text and _printable(text)


def _printable(text: str) -> bool:
    """Only characters a YAML reader takes literally (no controls, line separators, BOM or surrogates)."""
    return all(
        ch in "\t\n"
        or " " <= ch <= "~"
        or "\xa0" <= ch < "\u2028"
        or "\u2029" < ch <= "\ud7ff"
        or ("\ue000" <= ch <= "\ufffd" and ch != "\ufeff")
        or ch >= "\U00010000"
        for ch in text
    )


def _inline(value: Any) -> str:
    """A flow-style YAML rendering of a JSON-like value (JSON, with strings quoted for YAML)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_quote(str(k))}: {_inline(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {type(value).__name__} values to YAML")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _quote(text: str) -> str:
    """A YAML double-quoted string: backslash escapes for anything a YAML reader would not take as is."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'
