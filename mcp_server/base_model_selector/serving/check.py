"""Step 3b: what the pulled model really is, checked against what the catalog said.

Catalog facts come from model cards and articles; the server (or, for llama.cpp, the GGUF file's own metadata)
reports what was actually downloaded: the parameter count, the quantisation, the native context length, the
licence text, capabilities such as thinking. They disagree more often than one would hope (a tag pointing at
another size, a licence that changed, a context the card overstates). The decision document must rest on the
real facts, so this step records them with a short smoke test (does it load and answer, how fast, does the same
request get the same reply, which form of structured output the server takes) in runs/<model>/model.json, with
the server's own record and the facts it does not report, and lists every disagreement with the catalog instead
of hiding it.

Contract: `await check_model(study, model=None, *, backend=None, catalog=None, smoke=True) -> CheckReport`
(`catalog` is anything with `.get(id_or_name_or_tag)` returning an object with `id`, `params_b`,
`context_tokens`, `license`, `family`; default: the shipped catalog plus the study's catalog.yaml), and the pure
`compare_with_catalog(facts, entry) -> list[FactCheck]`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel

from base_model_selector.serving.backends import Backend, ModelInfo, single_turn, using
from base_model_selector.serving.pull import model_under_test
from base_model_selector.study.directory import Study
from base_model_selector.study.types import FactCheck, ModelFacts, Selection, ServerInfo, SmokeTest

SMOKE_PROMPT = "In one short sentence, say what you can help with."
SCHEMA_PROMPT = 'Reply with the JSON object {"ok": true}.'
SCHEMA_PROBE = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
PARAMS_TOLERANCE = 0.15
"""Relative difference in parameter count still counted as agreement (embeddings, vision towers, rounding)."""


class CatalogLike(Protocol):
    def get(self, id_or_name_or_tag: str) -> Any: ...


class CheckReport(BaseModel):
    facts: ModelFacts
    path: str
    disagreements: list[FactCheck]

    def summary(self) -> str:
        f = self.facts
        lines = [
            f"{f.model}: {f.family or '?'} {f.parameter_size or '?'} {f.quantization or ''}, native context "
            f"{f.context_length or '?'} tokens, licence: {f.license_first_line or '?'}; "
            f"capabilities: {', '.join(f.capabilities) or '?'}",
        ]
        if f.smoke is not None:
            speed = f", {f.smoke.tokens_per_s:.1f} tokens/s" if f.smoke.tokens_per_s else ""
            lines.append(f"Smoke test: answered in {f.smoke.latency_s:.2f}s{speed}: {f.smoke.text[:120]!r}")
        if f.server is not None:
            lines += server_lines(f.server)
        if f.not_reported:
            lines.append(f"Not reported by the server: {', '.join(f.not_reported)}.")
        if f.catalog_id is None:
            lines.append("Catalog: no entry for this model — nothing to compare.")
        elif self.disagreements:
            lines.append(f"Catalog ({f.catalog_id}) disagrees on {len(self.disagreements)} fact(s):")
            lines += [
                f"  - {c.field}: catalog {c.catalog!r}, server {c.server!r}. {c.note}" for c in self.disagreements
            ]
        else:
            lines.append(f"Catalog ({f.catalog_id}) agrees on every fact it has.")
        lines += [f"Warning: {w}" for w in f.warnings]
        lines.append(f"Saved {self.path}. Next: scenarios (step 4), then run the baseline.")
        return "\n".join(lines)


def server_lines(server: ServerInfo) -> list[str]:
    """The server as the check saw it, for a person: kind, limits, schema form, reproducibility, notes."""
    how = "detected" if server.detected else "as backend.server says"
    version = f" {server.version}" if server.version else ""
    context = f"{server.context_tokens:,} tokens" if server.context_tokens else "not reported"
    lines = [
        f"Server: {server.kind}{version} ({how}); context per request: {context}; structured output: "
        f"{server.structured_output or 'not probed'}; prompt cache: {server.prompt_cache or 'not reported'}.",
        f"Seed-reproducible replies: {server.seed_reproducible} — {server.reproducibility}",
    ]
    return lines + [f"Note: {n}" for n in server.notes]


async def check_model(
    study: Study,
    model: str | None = None,
    *,
    backend: Backend | None = None,
    catalog: CatalogLike | None = None,
    smoke: bool = True,
) -> CheckReport:
    """Record the model's real facts and a smoke test, compare them with the catalog, save model.json."""
    tag = model_under_test(study, model)
    server_facts: ServerInfo | None = None
    async with using(study.config.backend, backend) as server:
        info = await server.show(tag)
        server_facts = info.server.model_copy() if info.server is not None else None
        smoke_test = await _smoke(server, tag, study, server_facts) if smoke else None
    entry = _catalog_entry(study, tag, catalog, info.catalog_names)
    comparisons = compare_with_catalog(info, entry) if entry is not None else []
    warnings = list(info.warnings)
    if smoke_test is not None and not smoke_test.text.strip():
        warnings.append("the smoke test got an empty answer; with thinking on, the token budget may go to thinking")
    facts = ModelFacts(
        model=tag,
        hosts=info.hosts,
        digest=info.digest,
        family=info.family,
        architecture=info.architecture,
        parameter_size=info.parameter_size,
        parameters_b=info.parameters_b,
        quantization=info.quantization,
        context_length=info.context_length,
        license_first_line=info.license_first_line,
        capabilities=info.capabilities,
        size_bytes=info.size_bytes,
        name=info.name,
        chat_template=info.chat_template,
        smoke=smoke_test,
        server=server_facts,
        not_reported=info.not_reported,
        catalog_id=getattr(entry, "id", None) if entry is not None else None,
        comparisons=comparisons,
        warnings=warnings,
    )
    path = study.paths.model_facts(tag)
    async with study.locked_async(f"check_model {tag}"):
        study.write_json(path, facts)
    return CheckReport(facts=facts, path=str(path), disagreements=[c for c in comparisons if c.status == "differ"])


async def _smoke(server: Backend, tag: str, study: Study, facts: ServerInfo | None) -> SmokeTest:
    """One short answer, asked twice (the second meets the server's prompt cache), and one tiny structured reply:
    does it load and answer, how fast, are its replies reproducible, and which schema form does it take."""
    messages = single_turn(study.system_prompt(), SMOKE_PROMPT)
    options = {"temperature": 0, "seed": study.config.generation.seed, "num_predict": 96}
    result = await server.chat(tag, messages, options=options, think=False)
    again = await server.chat(tag, messages, options=options, think=False)
    probe = await server.chat(
        tag,
        [{"role": "user", "content": SCHEMA_PROMPT}],
        options=options | {"num_predict": 32},
        schema=SCHEMA_PROBE,
        think=False,
    )
    if facts is not None:
        facts.structured_output = probe.structured_output
        if again.text != result.text:
            facts.seed_reproducible = "no"
            facts.reproducibility = (
                "observed: the same request (temperature 0, the same seed) sent twice got two different replies; "
                + facts.reproducibility
            )
        else:
            facts.notes.append("the same request sent twice got the same reply (a two-request check, not a proof)")
    return SmokeTest(
        prompt=SMOKE_PROMPT,
        text=result.text.strip(),
        latency_s=result.latency_s,
        output_tokens=result.output_tokens,
        tokens_per_s=result.tokens_per_s,
        done_reason=result.done_reason,
        host=result.host,
    )


def _catalog_entry(study: Study, tag: str, catalog: CatalogLike | None, own_names: list[str] | None = None) -> Any:
    """The catalog entry for the model: via the selection's candidate id when it names this tag, else the tag,
    else the names the model states itself (a GGUF's `<basename>-<size label>`, e.g. smollm2-135m-instruct)."""
    if catalog is None:
        from base_model_selector.research.catalog import load_catalog

        user = study.paths.user_catalog
        catalog = load_catalog(user if user.exists() else None)
    selection = study.read_json(study.paths.selection, Selection)
    if selection is not None:
        for chosen in (selection.primary, selection.backup):
            if chosen is not None and tag in (chosen.ollama_tag, chosen.name):
                entry = catalog.get(chosen.candidate_id)
                if entry is not None:
                    return entry
    for name in [tag, *(own_names or [])]:
        entry = catalog.get(name)
        if entry is not None:
            return entry
    return None


def compare_with_catalog(info: ModelInfo, entry: Any) -> list[FactCheck]:
    """Each fact the catalog states next to what the server reports: agree, differ, or unknown (one side silent)."""
    return [
        _params(entry.params_b, info.parameters_b),
        _context(entry.context_tokens, info.context_length),
        _license(entry.license, info.license_first_line),
        _family(entry.family, info.family),
    ]


def _unknown(field: str, catalog: Any, server: Any) -> FactCheck | None:
    if catalog is None or server is None or server == "":
        side = "the catalog" if catalog is None else "the server"
        return FactCheck(
            field=field,
            catalog=None if catalog is None else str(catalog),
            server=None if server in (None, "") else str(server),
            status="unknown",
            note=f"{side} does not state it",
        )
    return None


def _compared(field: str, catalog: str, server: str, *, agree: bool, why: str) -> FactCheck:
    """A fact both sides state: agree, or differ with `why` it matters (kept out of the note when they agree)."""
    return FactCheck(
        field=field, catalog=catalog, server=server, status="agree" if agree else "differ", note="" if agree else why
    )


def _params(catalog_b: float | None, server_b: float | None) -> FactCheck:
    if (missing := _unknown("parameters_b", catalog_b, server_b)) is not None:
        return missing
    assert catalog_b is not None and server_b is not None
    off = abs(server_b - catalog_b) / catalog_b
    return _compared(
        "parameters_b",
        f"{catalog_b:g}",
        f"{server_b:g}",
        agree=off <= PARAMS_TOLERANCE,
        why=f"{off:.0%} apart — the tag may point at another size than the catalog entry",
    )


def _context(catalog_ctx: int | None, server_ctx: int | None) -> FactCheck:
    if (missing := _unknown("context_tokens", catalog_ctx, server_ctx)) is not None:
        return missing
    return _compared(
        "context_tokens",
        str(catalog_ctx),
        str(server_ctx),
        agree=catalog_ctx == server_ctx,
        why=(
            "the build's native context differs from the model card; plan with the smaller one (and note that "
            "Ollama's runtime context is generation.num_ctx, often much smaller)"
        ),
    )


_LICENSE_NOISE = re.compile(r"\(.*?\)|\b(the|licen[sc]e|agreement|version|terms|of|use|custom)\b")


def _license_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", _LICENSE_NOISE.sub(" ", text.lower().split("—")[0]))


def _license(catalog_lic: str | None, server_first_line: str | None) -> FactCheck:
    if (missing := _unknown("license", catalog_lic, server_first_line)) is not None:
        return missing
    assert catalog_lic is not None and server_first_line is not None
    a, b = _license_key(catalog_lic), _license_key(server_first_line)
    return _compared(
        "license",
        catalog_lic,
        server_first_line,
        agree=bool(a and b) and (a in b or b in a),
        why="the licence shipped with the weights is not the one the catalog names; read it",
    )


def _family(catalog_family: str | None, server_family: str | None) -> FactCheck:
    if (missing := _unknown("family", catalog_family, server_family)) is not None:
        return missing
    assert catalog_family is not None and server_family is not None
    a = re.sub(r"[^a-z0-9]+", "", re.sub(r"\(.*?\)", "", catalog_family.lower()))
    b = re.sub(r"[^a-z0-9]+", "", server_family.lower())
    return _compared(
        "family",
        catalog_family,
        server_family,
        agree=bool(a and b) and (a.startswith(b) or b.startswith(a)),
        why=(
            "the server's architecture family differs (normal for distills and fine-tunes built on another base; "
            "otherwise the tag may be a different model)"
        ),
    )
