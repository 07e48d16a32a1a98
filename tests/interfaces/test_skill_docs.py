"""Keep the agent-facing docs true: SKILL.md, the step guides and the plugin manifest, checked against the code.

SKILL.md is what an agent reads before it calls a single tool; when it names a tool that was renamed, an argument
that was dropped or a CLI command that does not exist, the agent improvises and the product fails however good
the code is. These tests read the docs the way an agent would and check every claim they can against the real
server (`build_server()`), the real CLI (`cli.app`) and the files on disk.

The docs follow conventions that make them checkable:
- a tool call is written in code as `tool_name(arg=value, other=value)`; objects inside it as `{key: value}`;
- a CLI command is a line (in a code span or block) `base-model-selector [--study S] <command> [--option ...]`;
- links between docs are relative Markdown links.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
import yaml
from markdown_it import MarkdownIt
from mcp import Client, StdioServerParameters

from base_model_selector import __version__
from base_model_selector.cli import app
from base_model_selector.judging.rubric import parse_rubric
from base_model_selector.scenarios.taxonomy import Taxonomy
from base_model_selector.server import build_server
from base_model_selector.study.yamlfile import validate_yaml_text

ROOT = Path(__file__).resolve().parents[2]
ROOT_SKILL = ROOT / "SKILL.md"
SKILL_NAME = "base-model-selector"
GUIDES = sorted(ROOT.glob("skills/*/SKILL.md"))
SKILL_FILES = [ROOT_SKILL, *GUIDES]
DOCS = [*SKILL_FILES, ROOT / "README.md"]
PLUGIN_JSON = ROOT / ".claude-plugin" / "plugin.json"
MARKETPLACE_JSON = ROOT / ".claude-plugin" / "marketplace.json"
MCP_JSON = ROOT / ".mcp.json"
PLUGIN_ROOT_VAR = "${CLAUDE_PLUGIN_ROOT}"

# The Agent Skills specification (agentskills.io/specification): the only top-level frontmatter keys, and limits.
ALLOWED_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # lowercase, digits, single hyphens, none at either end
MAX_NAME, MAX_DESCRIPTION, MAX_COMPATIBILITY, MAX_BODY_LINES = 64, 1024, 500, 500
FRONTMATTER_RE = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n", re.DOTALL)

CLI_NAME = "base-model-selector"
NOT_FOR_AGENTS = {"serve"}  # the stdio server itself: an agent never runs it through the shell
PLACEHOLDER_RE = re.compile(r"^(\.\.\.|<.*>|S)$")
CALL_RE = re.compile(r"(?<![\w.])([a-z_][a-z0-9_]*)\(")
NON_CODE_FENCES = {"yaml", "yml", "json", "jsonl", "toml", "python", "py", "mermaid"}


# ------------------------------------------------------------------------------------------------ reading docs
def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def frontmatter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    match = FRONTMATTER_RE.match(text)
    assert match, f"{rel(path)}: must start with YAML frontmatter between '---' lines"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), f"{rel(path)}: the frontmatter must be a YAML mapping"
    return meta, text[match.end() :]


@dataclass(frozen=True)
class Code:
    """One piece of code in a doc: an inline span or a fenced block (with its info string)."""

    text: str
    block: bool
    info: str = ""


@dataclass(frozen=True)
class Parsed:
    code: list[Code]
    links: list[str]
    headings: list[str]


@cache
def parse(path: Path) -> Parsed:
    tokens = MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))
    code: list[Code] = []
    links: list[str] = []
    headings: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type in ("fence", "code_block"):
            code.append(Code(tok.content, True, tok.info.strip().split(" ")[0].lower()))
        elif tok.type == "heading_open":
            headings.append(tokens[i + 1].content)
        elif tok.type == "inline":
            for child in tok.children or []:
                if child.type == "code_inline":
                    code.append(Code(child.content, False))
                elif child.type == "link_open":
                    links.append(str(child.attrs.get("href", "")))
    return Parsed(code, links, headings)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


# ------------------------------------------------------------------------------------------------ tool calls
@dataclass(frozen=True)
class Call:
    doc: str
    name: str
    args: str

    def __str__(self) -> str:
        shown = self.args if len(self.args) < 80 else self.args[:77] + "..."
        return f"{self.doc}: {self.name}({shown})"


def _closing(text: str, start: int) -> int:
    """Index of the bracket closing the one opened just before `start`, skipping quoted strings."""
    depth, quote, i = 1, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def split_top(text: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    parts, depth, quote, current = [], 0, "", []
    i = 0
    while i < len(text):
        ch = text[i]
        current.append(ch)
        if quote:
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            current.pop()
            parts.append("".join(current).strip())
            current = []
        i += 1
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def calls_in(path: Path) -> list[Call]:
    out = []
    for code in parse(path).code:
        if code.block and code.info in NON_CODE_FENCES:
            continue
        for match in CALL_RE.finditer(code.text):
            end = _closing(code.text, match.end())
            args = code.text[match.end() : end] if end >= 0 else code.text[match.end() :]
            out.append(Call(rel(path), match.group(1), args))
    return out


@cache
def server_tools() -> dict[str, dict[str, Any]]:
    """Each tool of the server and its input schema, as an MCP client sees them."""

    async def list_tools() -> dict[str, dict[str, Any]]:
        async with Client(build_server()) as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    return asyncio.run(list_tools())


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root.get("$defs", {})[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def object_keys(schema: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    """The property names an object in this schema may have; None when any key goes (a free-form mapping)."""
    schema = _resolve(schema, root)
    if "properties" in schema:
        return set(schema["properties"])
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        found = [object_keys(o, root) for o in options if _resolve(o, root).get("type") != "null"]
        if any(keys is None for keys in found) or not found:
            return None
        return set().union(*[k for k in found if k is not None])
    if schema.get("type") == "array" and "items" in schema:
        return object_keys(schema["items"], root)
    return None


def _child(schema: dict[str, Any], root: dict[str, Any], key: str) -> dict[str, Any] | None:
    schema = _resolve(schema, root)
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for option in schema.get("anyOf") or schema.get("oneOf") or []:
        found = _child(option, root, key)
        if found is not None:
            return found
    if schema.get("type") == "array" and "items" in schema:
        return _child(schema["items"], root, key)
    return None


KEY_RE = re.compile(r"""^\s*["']?([A-Za-z_][\w-]*)["']?\s*[:=]""")


def argument_problems(value: str, schema: dict[str, Any], root: dict[str, Any], where: str) -> list[str]:
    """Keys written inside `{...}` (or a list of them) that the schema of this argument does not have."""
    value = value.strip()
    if value.startswith("["):
        end = _closing(value, 1)
        return [p for item in split_top(value[1:end]) for p in argument_problems(item, schema, root, where)]
    if not value.startswith("{"):
        return []
    allowed = object_keys(schema, root)
    if allowed is None:
        return []
    problems = []
    for part in split_top(value[1 : _closing(value, 1)]):
        match = KEY_RE.match(part)
        if not match:
            continue
        key = match.group(1)
        if key not in allowed:
            problems.append(f"{where}: {key!r} is not a field here (fields: {', '.join(sorted(allowed))})")
            continue
        child = _child(schema, root, key)
        if child is not None:
            problems += argument_problems(part[match.end() :], child, root, f"{where}.{key}")
    return problems


def call_problems(call: Call, schema: dict[str, Any], *, strict: bool = True) -> list[str]:
    """What in a written call does not match the tool's schema.

    Strict (the skills, which follow the convention): every argument is `name=value`. Lenient (the README, whose
    step sections are prose): a bare name such as `next_assessment_batch(k)` is checked as an argument name and
    other positional text is left alone.
    """
    properties = schema.get("properties", {})
    problems = []
    for part in split_top(call.args):
        match = re.match(r"^([A-Za-z_]\w*)\s*=(?!=)", part) or (None if strict else re.fullmatch(r"([a-z_]\w*)", part))
        if not match:
            if strict:
                problems.append(f"{call}: write arguments as name=value, not {part!r}")
            continue
        arg = match.group(1)
        if arg not in properties:
            problems.append(f"{call}: {call.name} has no argument {arg!r} (it has: {', '.join(sorted(properties))})")
            continue
        problems += argument_problems(part[match.end() :], properties[arg], schema, f"{call.name}.{arg}")
    return problems


# ------------------------------------------------------------------------------------------------ CLI lines
@cache
def cli_group() -> Any:
    """The click group behind `cli.app` (typer ships its own copy of click, so no isinstance checks)."""
    return typer.main.get_command(app)


def _options(command: Any) -> dict[str, Any]:
    """Every option spelling of a command (e.g. --batched, --per-criterion, -k) → its parameter."""
    out = {"--help": None}
    for param in command.params:
        if param.param_type_name == "option":
            out |= dict.fromkeys([*param.opts, *param.secondary_opts], param)
    return out


@dataclass(frozen=True)
class CliLine:
    doc: str
    text: str
    command: str
    options: tuple[str, ...]


def _segments(code: Code) -> list[str]:
    text = code.text.replace("\\\n", " ")
    lines = text.splitlines() if code.block else [text]
    out = []
    for line in lines:
        line = re.sub(r"(^|\s)#.*$", "", line)  # shell comments
        out += [s for s in re.split(r"&&|\|\||;|\|", line) if CLI_NAME in s]
    return out


def _program_end(tokens: list[str]) -> int | None:
    """Where the CLI's own arguments start, when the tokens run our CLI (directly, via uv/uvx, or python -m)."""
    if tokens[:1] == [CLI_NAME]:
        return 1
    if tokens[:1] in (["uv"], ["uvx"]) and CLI_NAME in tokens:
        return tokens.index(CLI_NAME) + 1
    if tokens[:1] in (["python"], ["python3"]) and tokens[1:3] == ["-m", "base_model_selector"]:
        return 3
    return None  # e.g. `claude mcp add base-model-selector -- ...`: our name, but not our CLI


def cli_lines_in(path: Path) -> list[CliLine]:
    globals_ = _options(cli_group())
    out = []
    for code in parse(path).code:
        if code.block and code.info in NON_CODE_FENCES:
            continue
        for segment in _segments(code):
            try:
                tokens = shlex.split(segment)
            except ValueError:
                tokens = segment.split()
            start = _program_end(tokens)
            if start is None:
                continue
            rest = tokens[start:]
            while rest and rest[0].startswith("-"):
                token = rest.pop(0)
                param = globals_.get(token.split("=", 1)[0])
                if param is not None and not param.is_flag and "=" not in token and rest:
                    rest.pop(0)
            if not rest or PLACEHOLDER_RE.match(rest[0]):
                continue
            options = tuple(t.split("=", 1)[0] for t in rest[1:] if re.match(r"^--?[A-Za-z]", t))
            out.append(CliLine(rel(path), segment.strip(), rest[0], options))
    return out


def cli_problems(path: Path) -> list[str]:
    """Commands shown in `path` that the CLI lacks, and options their command does not take."""
    commands = cli_group().commands
    problems = []
    for line in cli_lines_in(path):
        command = commands.get(line.command)
        if command is None:
            problems.append(f"{line.doc}: `{line.text}`: no command {line.command!r} (have: {', '.join(commands)})")
            continue
        unknown = [o for o in line.options if o not in _options(command)]
        if unknown:
            problems.append(f"{line.doc}: `{line.text}`: {line.command} has no option {unknown}")
    return problems


def tool_call_problems(path: Path, *, strict: bool) -> list[str]:
    """Tool calls shown in `path` whose arguments (and the fields inside them) the tool's schema does not have."""
    tools = server_tools()
    return [p for c in calls_in(path) if c.name in tools for p in call_problems(c, tools[c.name], strict=strict)]


# ================================================================================================ the tests
def frontmatter_problems(meta: dict[str, Any], folder: str) -> list[str]:
    """Every way `meta` breaks the Agent Skills specification for a skill in the folder named `folder`."""
    problems = []
    extra = set(meta) - ALLOWED_KEYS
    if extra:
        problems.append(f"keys not allowed at the top level: {sorted(extra)} (allowed: {sorted(ALLOWED_KEYS)})")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        problems.append("`name` is missing or not a string")
    else:
        if len(name) > MAX_NAME:
            problems.append(f"`name` is {len(name)} characters; at most {MAX_NAME}")
        if not NAME_RE.match(name):
            problems.append(f"`name` {name!r}: only lowercase letters, digits and single hyphens, none at the ends")
        if name != folder:
            problems.append(f"`name` {name!r} must equal its folder name {folder!r}")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append("`description` is missing or empty")
    else:
        if len(description) > MAX_DESCRIPTION:
            problems.append(f"`description` is {len(description)} characters; at most {MAX_DESCRIPTION}")
        if "<" in description or ">" in description:
            problems.append("`description` must not contain '<' or '>'")
    if "license" in meta and not isinstance(meta["license"], str):
        problems.append("`license` must be a string")
    if "compatibility" in meta:
        compat = meta["compatibility"]
        if not isinstance(compat, str) or not 1 <= len(compat) <= MAX_COMPATIBILITY:
            problems.append(f"`compatibility` must be a string of 1–{MAX_COMPATIBILITY} characters")
    if "metadata" in meta:
        md = meta["metadata"]
        if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
            problems.append('`metadata` must map strings to strings (quote numbers such as version: "1.0")')
    if "allowed-tools" in meta:
        tools = meta["allowed-tools"]
        if not (isinstance(tools, str) or (isinstance(tools, list) and all(isinstance(t, str) for t in tools))):
            problems.append("`allowed-tools` must be a space-separated string or a list of strings")
    return problems


GOOD = {"name": "rubric-design", "description": "Write rubrics. Use when judging responses."}


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param({**GOOD, "version": "1"}, "not allowed at the top level", id="unknown-top-level-key"),
        pytest.param({**GOOD, "name": "Rubric-Design"}, "lowercase", id="uppercase-name"),
        pytest.param({**GOOD, "name": "rubric--design"}, "single hyphens", id="double-hyphen"),
        pytest.param({**GOOD, "name": "-rubric-design"}, "none at the ends", id="leading-hyphen"),
        pytest.param({**GOOD, "name": "r" * 65}, "at most 64", id="name-too-long"),
        pytest.param({**GOOD, "name": "rubric"}, "folder name", id="name-not-folder"),
        pytest.param({**GOOD, "description": "x" * 1025}, "at most 1024", id="description-too-long"),
        pytest.param({**GOOD, "description": "Use for <rubric> files"}, "'<' or '>'", id="angle-brackets"),
        pytest.param({**GOOD, "description": " "}, "missing or empty", id="empty-description"),
        pytest.param({**GOOD, "metadata": {"version": 1.0}}, "strings to strings", id="metadata-not-strings"),
        pytest.param({**GOOD, "compatibility": "x" * 501}, "1–500", id="compatibility-too-long"),
    ],
)
def test_frontmatter_check_rejects_what_the_specification_forbids(meta: dict[str, Any], expected: str) -> None:
    problems = frontmatter_problems(meta, "rubric-design")
    assert any(expected in p for p in problems), problems


def test_frontmatter_check_accepts_a_valid_skill() -> None:
    assert frontmatter_problems({**GOOD, "license": "MIT", "metadata": {"version": "0.1.0"}}, "rubric-design") == []


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        pytest.param('`decide(study=S, modle="x")`', "no argument 'modle'", id="misspelt-argument"),
        pytest.param("`decide(S)`", "write arguments as name=value", id="positional-argument"),
        pytest.param('`select_model(primary={candidate: "a", why: "b"})`', "'why' is not a field", id="unknown-field"),
        pytest.param(
            '`research_candidates(add=[{id: "m", facts: [{field: "license", url: "u"}]}])`',
            "'url' is not a field",
            id="unknown-field-in-a-nested-list",
        ),
        pytest.param("```bash\nbase-model-selector --study S evalute\n```", "no command 'evalute'", id="no-command"),
        pytest.param("`base-model-selector --study S next-batch --k 5`", "has no option ['--k']", id="no-option"),
        pytest.param(
            "`uv run base-model-selector --study S decide --json`", "has no option ['--json']", id="global-option-late"
        ),
    ],
)
def test_doc_checks_catch_what_an_agent_would_trip_on(tmp_path: Path, markdown: str, expected: str) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Doc\n\n{markdown}\n", encoding="utf-8")
    problems = tool_call_problems(doc, strict=True) + cli_problems(doc)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("path", SKILL_FILES, ids=rel)
def test_every_skill_file_has_valid_frontmatter_and_a_short_body(path: Path) -> None:
    meta, body = frontmatter(path)
    folder = SKILL_NAME if path == ROOT_SKILL else path.parent.name  # the root is cloned as base-model-selector/
    assert frontmatter_problems(meta, folder) == []
    assert len(body.splitlines()) < MAX_BODY_LINES, f"{rel(path)}: keep the body under {MAX_BODY_LINES} lines"


def test_the_guides_exist_and_the_root_skill_links_every_one() -> None:
    assert len(GUIDES) >= 4, "expected the guides: model research, scenarios, rubric, decision"
    linked = {(ROOT / link.split("#")[0]).resolve() for link in parse(ROOT_SKILL).links}
    missing = [rel(g) for g in GUIDES if g.resolve() not in linked]
    assert not missing, f"SKILL.md does not link these guides: {missing}"


def test_every_server_tool_is_called_in_skill_md() -> None:
    shown = {c.name for c in calls_in(ROOT_SKILL)}
    missing = sorted(set(server_tools()) - shown)
    assert not missing, f"SKILL.md never shows how to call: {missing} (write `tool_name(arg=...)` in code)"


@pytest.mark.parametrize("path", SKILL_FILES, ids=rel)
def test_every_tool_called_in_the_skills_exists_on_the_server(path: Path) -> None:
    tools = server_tools()
    unknown = [str(c) for c in calls_in(path) if c.name not in tools]
    assert not unknown, f"not tools of build_server(): {unknown}"


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_argument_shown_for_a_tool_is_in_its_schema(path: Path) -> None:
    problems = tool_call_problems(path, strict=path in SKILL_FILES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_no_code_span_names_a_tool_that_almost_exists(path: Path) -> None:
    tools = set(server_tools())
    spans = {c.text.strip() for c in parse(path).code if not c.block}
    names = {s.removesuffix("()") for s in spans if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+(\(\))?", s)}
    near = {n: difflib.get_close_matches(n, tools, n=1, cutoff=0.85) for n in names - tools}
    typos = {n: m[0] for n, m in near.items() if m}
    assert not typos, f"code spans that look like misspelt tools: {typos}"


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_cli_command_shown_exists_with_its_options(path: Path) -> None:
    problems = cli_problems(path)
    assert not problems, "\n".join(problems)


def test_skill_md_shows_every_cli_command_an_agent_may_need() -> None:
    shown = {line.command for line in cli_lines_in(ROOT_SKILL)}
    missing = sorted(set(cli_group().commands) - NOT_FOR_AGENTS - shown)
    assert not missing, f"SKILL.md never shows the CLI command(s): {missing}"


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for link in parse(path).links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            broken.append(f"{link} (no {file})")
        elif ROOT not in file.parents and file != ROOT:
            broken.append(f"{link} (outside the repository)")
        elif anchor and file.suffix == ".md" and anchor not in {slug(h) for h in parse(file).headings}:
            broken.append(f"{link} (no heading #{anchor} in {rel(file)})")
    assert not broken, f"{rel(path)}: broken links: {broken}"


def yaml_examples() -> list[Any]:
    """Every fenced YAML block of the guides that is a whole rubric.yaml or taxonomy.yaml."""
    out = []
    for path in GUIDES:
        for n, code in enumerate(c for c in parse(path).code if c.block and c.info in ("yaml", "yml")):
            data = yaml.safe_load(code.text)
            kind = "rubric" if isinstance(data, dict) and "criteria" in data else "taxonomy"
            if isinstance(data, dict) and ("criteria" in data or "topics" in data):
                out.append(pytest.param(kind, code.text, id=f"{rel(path)}-{kind}-{n}"))
    return out


@pytest.mark.parametrize(("kind", "text"), yaml_examples())
def test_every_rubric_and_taxonomy_shown_in_the_guides_is_valid(kind: str, text: str) -> None:
    if kind == "rubric":
        parse_rubric(text, name="example rubric.yaml")
    else:
        validate_yaml_text(text, Taxonomy, name="example taxonomy.yaml")


def test_the_guides_show_a_rubric_and_a_taxonomy() -> None:
    assert {p.values[0] for p in yaml_examples()} == {"rubric", "taxonomy"}


# ------------------------------------------------------------------------------------------------ the plugin
def test_plugin_manifest_names_the_skill_and_points_at_real_paths() -> None:
    manifest = json.loads(PLUGIN_JSON.read_text(encoding="utf-8"))
    meta, _ = frontmatter(ROOT_SKILL)
    assert manifest["name"] == meta["name"] == SKILL_NAME
    assert manifest["version"] == __version__ == meta["metadata"]["version"]
    for key in ("description", "license"):
        assert isinstance(manifest.get(key), str) and manifest[key], f"plugin.json: `{key}` is missing"
    assert manifest["author"]["name"], "plugin.json: `author.name` is missing"
    assert manifest["keywords"] and all(isinstance(k, str) for k in manifest["keywords"])
    declared = [(ROOT / p).resolve() for p in manifest["skills"]]
    assert ROOT in declared, "plugin.json: declare the root skill ('./') in `skills`"
    for directory in declared:
        assert directory.is_dir(), f"plugin.json: skills path {directory} is not a directory"
        assert (directory / "SKILL.md").exists() or any(directory.glob("*/SKILL.md")), f"no SKILL.md in {directory}"
    assert {g.resolve() for g in GUIDES} <= {f.resolve() for d in declared for f in d.glob("*/SKILL.md")}
    assert (ROOT / manifest["mcpServers"]).resolve() == MCP_JSON.resolve()


def mcp_server_config() -> dict[str, Any]:
    servers = json.loads(MCP_JSON.read_text(encoding="utf-8"))["mcpServers"]
    assert list(servers) == [SKILL_NAME], f".mcp.json: expected one server named {SKILL_NAME}"
    return servers[SKILL_NAME]


def test_mcp_json_starts_the_console_script_from_the_plugin_root() -> None:
    config = mcp_server_config()
    args = config["args"]
    assert config["command"] == "uv" and args[:2] == ["run", "--project"], args
    assert args[2] == PLUGIN_ROOT_VAR, f".mcp.json: run from {PLUGIN_ROOT_VAR}, not a fixed path"
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get(args[3]) == "base_model_selector.server:main", f"{args[3]} is not the MCP console script"


def test_marketplace_lists_this_plugin_from_the_repository_root() -> None:
    market = json.loads(MARKETPLACE_JSON.read_text(encoding="utf-8"))
    (entry,) = [p for p in market["plugins"] if p["name"] == SKILL_NAME]
    assert (ROOT / entry["source"]).resolve() == ROOT
    assert market["owner"]["name"]


def test_readme_clones_the_skill_into_a_folder_named_like_the_skill() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"~/.claude/skills/{SKILL_NAME}" in readme


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_the_mcp_json_command_serves_every_tool_over_stdio() -> None:
    """The exact command a plugin install runs starts the server, and it serves the same tools."""
    config = mcp_server_config()
    args = [a.replace(PLUGIN_ROOT_VAR, str(ROOT)) for a in config["args"]]
    env = {**os.environ, "BMS_LOG_LEVEL": "WARNING", "UV_OFFLINE": "1"}

    async def list_tools() -> set[str]:
        with anyio.fail_after(90):
            async with Client(StdioServerParameters(command=config["command"], args=args, env=env)) as client:
                return {t.name for t in (await client.list_tools()).tools}

    assert anyio.run(list_tools) == set(server_tools())
