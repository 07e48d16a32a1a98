"""A deterministic instance of a JSON schema: what a fake server answers when asked for structured output."""

from __future__ import annotations

import math
import urllib.parse
from typing import Any


def _resolve_ref(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if part:
            node = node[urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def _merge_all_of(schema: dict, root: Any) -> dict:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for sub in schema["allOf"]:
        if isinstance(sub, dict) and "$ref" in sub:
            sub = {**_resolve_ref(sub["$ref"], root), **{k: v for k, v in sub.items() if k != "$ref"}}
        if not isinstance(sub, dict):
            continue
        for key, value in sub.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _number(schema: dict, integer: bool, salt: int) -> int | float:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    exlo, exhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(exlo, bool):  # draft 4 spelling
        exlo, lo = (lo if exlo else None), (None if exlo else lo)
    if isinstance(exhi, bool):
        exhi, hi = (hi if exhi else None), (None if exhi else hi)
    step = 1 if integer else 0.5
    low = lo if lo is not None else (exlo + step if exlo is not None else None)
    high = hi if hi is not None else (exhi - step if exhi is not None else None)
    if integer:
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
    if low is None:
        value: float = min(0, high) if high is not None else 0
    else:
        value = low
    value += salt
    if high is not None and value > high:
        value = high
    if (multiple := schema.get("multipleOf")) and value % multiple:
        value = math.ceil(value / multiple) * multiple
    return int(value) if integer or float(value).is_integer() else value


_STRING_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: dict, name: str, salt: int) -> str:
    if schema.get("format") in _STRING_FORMATS:
        return _STRING_FORMATS[schema["format"]]
    text = (name or "text") + (f"-{salt}" if salt else "")
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


def schema_instance(schema: Any, root: Any = None, *, name: str = "", salt: int = 0, _depth: int = 0) -> Any:
    """Build a small document valid for a JSON schema (the subset structured outputs use).

    Objects get their required properties, enums their first value, `const` its value, `anyOf` /
    `oneOf` their first non-null branch, arrays `minItems` elements; `$ref` into `$defs` /
    `definitions` and `allOf` are resolved. Strings are derived from the property name.
    """
    root = schema if root is None else root
    if _depth > 64:
        raise ValueError("schema recursion too deep for a minimal instance")
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        target = _resolve_ref(schema["$ref"], root)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema_instance(merged, root, name=name, salt=salt, _depth=_depth + 1)
    if "const" in schema:
        return schema["const"]
    if enum := schema.get("enum"):
        return enum[salt % len(enum)]  # the first value; array elements cycle to stay unique
    if "allOf" in schema:
        return schema_instance(_merge_all_of(schema, root), root, name=name, salt=salt, _depth=_depth + 1)
    for key in ("anyOf", "oneOf"):
        if options := schema.get(key):
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            chosen = (non_null or options)[0]
            rest = {k: v for k, v in schema.items() if k != key}
            chosen = {**rest, **chosen} if isinstance(chosen, dict) else chosen
            return schema_instance(chosen, root, name=name, salt=salt, _depth=_depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return {
            key: schema_instance(props.get(key, extra), root, name=key, _depth=_depth + 1)
            for key in schema.get("required", [])
        }
    if kind == "array":
        prefix = schema.get("prefixItems") or []
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        out = [schema_instance(p, root, name=name, salt=i, _depth=_depth + 1) for i, p in enumerate(prefix)]
        for i in range(len(out), int(schema.get("minItems", 0))):
            out.append(schema_instance(items, root, name=name, salt=i, _depth=_depth + 1))
        return out
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer", salt)
    if kind == "boolean":
        return salt % 2 == 1
    if kind == "null":
        return None
    return _string(schema, name, salt)
