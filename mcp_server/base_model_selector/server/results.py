"""The size budget: every tool result is a short Markdown summary plus its data once, small unless asked.

Claude Code saves an MCP result over 50,000 characters to a file and shows the agent only the path (and stops
at 25,000 tokens), and the SDK's default puts the same JSON in the text and in the structured content. So every
tool goes through `shaped`, which makes its result:

- **text**: the core result's `summary()` — what happened, the key numbers, the next step — capped;
- **structured content**: the data once, with the same summary first (Claude Code shows the agent only the
  structured content when there is one) and a `page` saying what was left out and how to ask for it;
- at most `BUDGET` characters (text + structured) by default. A tool's `Fit` names the list it pages
  (`offset`/`limit`, `next_offset`; one item by `id`) and the fields it leaves out unless `detail=true`. Whatever
  still does not fit is cut, largest first, and each cut is listed in `page.cut`; asking for detail or one item
  raises the budget to `DETAIL_BUDGET`, still under Claude Code's file threshold.

The published output schema is the core result type's plus `summary` and `page`, so clients still validate it.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

BUDGET = 20_000
"""Characters of text + structured content a default result may take."""
DETAIL_BUDGET = 48_000
"""The budget when the caller asked for detail or one item: under Claude Code's 50,000-character file threshold."""
SUMMARY_CHARS = 1_200
"""The text summary's cap."""
HEADLINE_CHARS = 400
"""The cap of the headline that opens the structured content (for clients such as Claude Code that show the agent
only the structured content): the summary's first line and its "Next:" line; the data that follows has the rest."""
CUT_TAIL = "characters cut to fit]"
CUT_MARK = "… [{n} " + CUT_TAIL


@dataclass(frozen=True)
class Fit:
    """How one tool's result is kept small.

    `items`: the top-level list paged with `offset`/`limit` and from which `id` picks one (matched against each
    dotted path in `key`, case-insensitively). `brief`: dotted paths of lists and strings emptied unless
    `detail=true` (`"rows.evidence"` empties `evidence` in every row). A tool that declares one of the view arguments
    (`detail`, `offset`, `limit`, `id`) itself receives it too. `shrink`: a top-level list that is shortened first
    when the result is over the budget, without paging (what is dropped comes with the next call, like the
    responses of a judging batch). `keep`: top-level fields never cut (the rubric a batch is judged with).
    """

    items: str | None = None
    key: tuple[str, ...] = ("id",)
    brief: tuple[str, ...] = ()
    limit: int = 10
    shrink: str | None = None
    keep: tuple[str, ...] = ()


class Page(BaseModel):
    """What this result shows of the whole, and how to ask for the rest."""

    items: str | None = Field(default=None, description="The list this result pages")
    offset: int = 0
    shown: int = 0
    total: int = 0
    next_offset: int | None = Field(default=None, description="Pass as offset for the next page; null: no more")
    left_out: list[str] = Field(default_factory=list, description="Fields left out; ask with detail=true or id")
    cut: list[str] = Field(default_factory=list, description="What was shortened to fit the size budget")


@dataclass(frozen=True)
class View:
    detail: bool = False
    offset: int = 0
    limit: int | None = None
    id: str | None = None


DetailArg = Annotated[bool, Field(description="Include the fields left out by default (larger result)")]
ItemIdArg = Annotated[str | None, Field(description="Return only this item, in full")]

_VIEW_PARAMS: dict[str, tuple[Any, Any]] = {
    "detail": (DetailArg, False),
    "offset": (Annotated[int, Field(ge=0, description="First item to return (see page.next_offset)")], 0),
    "limit": (
        Annotated[int | None, Field(ge=1, le=200, description="Items per page; default keeps the result small")],
        None,
    ),
    "id": (ItemIdArg, None),
}


def shaped(fn: Callable[..., Awaitable[Any]], *, name: str, fit: Fit) -> Callable[..., Awaitable[CallToolResult]]:
    """`fn` (async, returning a pydantic model) as a tool function whose result keeps the budget.

    The returned function's signature is `fn`'s plus the view arguments `fit` calls for; its return annotation
    names `fn`'s model, whose schema `published_schema` extends with `summary` and `page`.
    """
    sig = inspect.signature(fn, eval_str=True)
    returned = sig.return_annotation
    if not (isinstance(returned, type) and issubclass(returned, BaseModel)):
        raise TypeError(f"tool {name} must return a pydantic model, not {returned!r}")
    wanted = ("detail", "offset", "limit", "id") if fit.items else ("detail",) if fit.brief else ()
    own = set(sig.parameters)
    extra = [
        inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=_VIEW_PARAMS[p][0], default=_VIEW_PARAMS[p][1])
        for p in wanted
        if p not in own
    ]
    params = [*sig.parameters.values(), *extra]

    async def tool_fn(**kwargs: Any) -> CallToolResult:
        view = View(**{p: kwargs[p] for p in wanted if p in kwargs})
        for p in extra:
            kwargs.pop(p.name, None)
        return to_result(await fn(**kwargs), name=name, fit=fit, view=view)

    tool_fn.__name__ = getattr(fn, "__name__", name)
    tool_fn.__doc__ = fn.__doc__
    tool_fn.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=Annotated[CallToolResult, returned]
    )
    tool_fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": Annotated[CallToolResult, returned]}
    return tool_fn


@functools.cache
def _page_schema() -> dict[str, Any]:
    return Page.model_json_schema()


def published_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A core result type's output schema as the tool publishes it: `summary` first, then its fields, `page`.

    The tool's structured content is that schema's instance (clients validate it); the server builds it from a
    validated core result, so it is not validated twice.
    """
    return {
        **schema,
        "properties": {
            "summary": {"type": "string", "description": "What happened, the key numbers and the next step"},
            **schema.get("properties", {}),
            "page": {
                "anyOf": [{"$ref": "#/$defs/ResultPage"}, {"type": "null"}],
                "description": "Set when part of the result was left out",
            },
        },
        "$defs": {**schema.get("$defs", {}), "ResultPage": _page_schema()},
    }


def size_of(text: str, structured: Any) -> int:
    """Characters on the wire: the text plus the compact JSON of the structured content."""
    return len(text) + len(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))


def to_result(value: BaseModel, *, name: str, fit: Fit, view: View) -> CallToolResult:
    """The tool result for `value`: summary text, structured data once, within the budget."""
    data = _lean(value.model_dump(mode="json"), value.model_dump(mode="json", exclude_defaults=True))
    page = Page(items=fit.items)
    budget = DETAIL_BUDGET if view.detail or view.id else BUDGET
    if fit.items and isinstance(data.get(fit.items), list):
        _select(data, fit, view, page, name)
    if not (view.detail or view.id):
        for path in fit.brief:
            if _empty(data, path.split(".")):
                page.left_out.append(path)
    summary = _summary(value, cap=SUMMARY_CHARS)
    headline = _headline(summary)
    text = summary + _page_note(page, name)
    structured = {"summary": headline, **data, "page": page.model_dump(mode="json")}
    for _ in range(200):  # each pass removes at least a tenth of the excess; bounded all the same
        over = size_of(text, structured) - budget
        if over <= 0:
            break
        if not _cut(data, fit, page, over):
            break
        text = summary + _page_note(page, name)
        structured = {"summary": headline, **data, "page": page.model_dump(mode="json")}
    if not page.items and not page.left_out and not page.cut:
        structured["page"] = None
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _lean(full: Any, lean: Any) -> Any:
    """`full` without the fields that are empty (null, false, "", [], {}) and at their default: they say
    nothing. A default that says something (an untrusted-data notice, instructions) stays, and so does every
    required field, so the result still validates."""
    if isinstance(full, dict) and isinstance(lean, dict):
        return {
            k: _lean(v, lean[k]) if k in lean else v
            for k, v in full.items()
            if k in lean or not (v is None or v is False or v in ("", [], {}))
        }
    if isinstance(full, list) and isinstance(lean, list) and len(full) == len(lean):
        return [_lean(f, le) for f, le in zip(full, lean, strict=True)]
    return full


def _summary(value: BaseModel, cap: int) -> str:
    summary = getattr(value, "summary", None)
    return _capped_lines(summary() if callable(summary) else "", cap)


def _headline(summary: str) -> str:
    """The summary's first line (what happened, the key numbers) and its closing "Next: …" line, capped."""
    lines = summary.splitlines() or [""]
    last = lines[-1] if len(lines) > 1 and lines[-1].startswith("Next:") else ""
    head = _capped_lines(lines[0], HEADLINE_CHARS - len(last)) if len(lines[0]) > HEADLINE_CHARS else lines[0]
    return head + ("\n" + last if last else "")


def _capped_lines(text: str, limit: int) -> str:
    """`text` cut at a line end before `limit` characters, saying that the data has the rest; a closing
    "Next: …" line is kept."""
    if len(text) <= limit:
        return text
    last = text.rsplit("\n", 1)[-1]
    tail = "\n" + last if last.startswith("Next:") and len(last) < limit // 2 else ""
    kept = text[: limit - len(tail)].rsplit("\n", 1)[0]
    return kept + "\n… (the data has the rest)" + tail


def _select(data: dict[str, Any], fit: Fit, view: View, page: Page, name: str) -> None:
    assert fit.items is not None
    items: list[Any] = data[fit.items]
    page.total = len(items)
    if view.id is not None:
        wanted = view.id.strip().lower()
        chosen = [i for i in items if any(str(_get(i, k)).lower() == wanted for k in fit.key)]
        if not chosen:
            known = ", ".join(str(_get(i, fit.key[0])) for i in items[:40])
            raise ToolError(f"{name}: no item of {fit.items} has {' or '.join(fit.key)} {view.id!r}; known: {known}")
        data[fit.items] = chosen[:1]
        page.offset, page.shown = items.index(chosen[0]), 1
        return
    limit = view.limit or fit.limit
    data[fit.items] = items[view.offset : view.offset + limit]
    page.offset, page.shown = view.offset, len(data[fit.items])
    end = view.offset + page.shown
    page.next_offset = end if end < len(items) else None


def _get(item: Any, path: str) -> Any:
    for part in path.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _empty(node: Any, parts: list[str]) -> bool:
    """Empty the field at `parts` in `node` (through lists); True if anything was removed."""
    if isinstance(node, list):
        removed = [_empty(item, parts) for item in node]  # every item, not just up to the first
        return any(removed)
    if not isinstance(node, dict) or parts[0] not in node:
        return False
    if len(parts) > 1:
        return _empty(node[parts[0]], parts[1:])
    value = node[parts[0]]
    if not value or not isinstance(value, list | str):  # only what still fits the schema when empty
        return False
    node[parts[0]] = type(value)()
    return True


def _page_note(page: Page, name: str) -> str:
    notes = []
    if page.items and page.total:
        first = page.offset + 1 if page.shown else page.offset
        notes.append(f"Showing {page.items} {first}–{page.offset + page.shown} of {page.total}.")
        if page.next_offset is not None:
            notes.append(f"More: call {name} with offset={page.next_offset}.")
    if page.left_out:
        notes.append(
            f"Left out: {', '.join(page.left_out)} (ask with detail=true" + (" or id=...)." if page.items else ").")
        )
    if page.cut:
        notes.append(f"Cut to fit: {'; '.join(page.cut)}.")
    return ("\n\n" + " ".join(notes)) if notes else ""


def _cut(data: dict[str, Any], fit: Fit, page: Page, over: int) -> bool:
    """Shorten the largest thing in `data` to win back `over` characters; False when nothing can be cut."""
    first = fit.items or fit.shrink
    listed = data.get(first) if first else None
    if first and isinstance(listed, list) and len(listed) > 1:
        sizes = [size_of("", item) for item in listed]
        keep = len(listed)
        while keep > 1 and sum(sizes[keep:]) < over:
            keep -= 1
        data[first] = listed[:keep]
        if fit.items:
            page.shown = keep
            end = page.offset + keep
            page.next_offset = end if end < page.total else None
        else:
            page.cut.append(f"{first}: {keep} of {len(listed)} shown (the others come with the next call)")
        return True
    largest = _largest({k: v for k, v in data.items() if k not in fit.keep}, ())
    if largest is None:
        return False
    path, value, size = largest
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    target = max(size - max(over, size // 10), 0)
    where = ".".join(str(p) for p in path)
    if isinstance(value, str):
        keep_chars = max(target - 80, 40)
        parent[path[-1]] = value[:keep_chars] + CUT_MARK.format(n=len(value) - keep_chars)
        page.cut.append(f"{where} shortened")
    else:
        sizes = [size_of("", item) for item in value]
        keep = len(value)
        while keep > 1 and sum(sizes[:keep]) > target:
            keep -= 1
        parent[path[-1]] = value[:keep]
        page.cut.append(f"{where}: {keep} of {len(value)} shown")
    return True


def _largest(node: Any, path: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any, int] | None:
    """The largest cuttable value under `node`: a list of more than one item, or a string over 300 characters."""
    best: tuple[tuple[Any, ...], Any, int] | None = None
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        here = (*path, key)
        size = size_of("", child)
        cuttable = (isinstance(child, list) and len(child) > 1) or (
            isinstance(child, str) and len(child) > 300 and not child.endswith(CUT_TAIL)
        )
        if cuttable and (best is None or size > best[2]):
            best = (here, child, size)
        if isinstance(child, dict | list):
            inner = _largest(child, here)
            if inner is not None and (best is None or inner[2] > best[2]):
                best = inner
    return best
