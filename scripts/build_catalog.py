"""Build the shipped catalog (`mcp_server/base_model_selector/data/catalog.json`) from the raw model facts.

The raw facts (one JSON object a line, re-curated from primary sources in 2026-12; format in
`scripts/data/README.md`) say what sources claim; a fine-tuning decision also needs what they imply: MoE or
hybrid architecture, whether base weights exist, and what a custom licence demands. Those judgements live here,
in reviewed tables, and each one is written into the model's `facts` as an `unverified` inference with its
reasoning, so nothing derived passes for something read. Every raw source is kept (unsourced raw notes become
`unverified` facts of kind NOTE_KIND). Traits, community signals and known issues pass through; an Ollama tag
counts as verified only when the raw listing has no "unverified" marker and a verified fact confirms the tags.

The build refuses a `verified` fact, trait or known issue that cites anything but a primary source
(`research/sources.py`): a mirror can never make a fact verified. Output is deterministic: same input, same bytes.

    uv run python scripts/build_catalog.py path/to/model-facts.jsonl          # write the data file
    uv run python scripts/build_catalog.py path/to/model-facts.jsonl --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from base_model_selector.research.catalog import INFERENCE_KIND, NOTE_KIND, Catalog, CatalogModel, Fact
from base_model_selector.research.sources import cites_only_primary

AS_OF = "2026-12"
OUT = Path(__file__).resolve().parents[1] / "mcp_server" / "base_model_selector" / "data" / "catalog.json"

_STACK = "(check Unsloth/Axolotl/TRL support)"


def _qwen_hybrid(kind: str = "") -> str:
    return f"Gated-DeltaNet hybrid{kind}: needs a training stack that supports it {_STACK}"


def _mamba_hybrid(kind: str) -> str:
    return f"Mamba-2/Transformer hybrid{kind}: needs a training stack with Mamba-2 kernels {_STACK}"


def _moe(detail: str = "") -> str:
    return f"Mixture of experts{detail}: all experts must fit in memory to train; needs MoE support {_STACK}"


_WHY_QWEN = "raw data README: Qwen3.5/3.6/3.8 are Gated-DeltaNet hybrids"
_GPT_OSS = ", native MXFP4 weights, harmony chat format"
# id -> (architecture, active_params_b, note, why). Ids absent here are dense with no note.
ARCHITECTURE: dict[str, tuple[str, float | None, str, str]] = {
    "qwen3-30b-a3b": ("moe", 3.3, _moe(" (128 experts)"), "raw params_b: 30.5B total / 3.3B active, 128 experts"),
    "qwen3-30b-a3b-instruct-2507": ("moe", 3.3, _moe(" (128 experts)"), "raw params_b: same as Qwen3-30B-A3B"),
    "qwen3-coder-30b-a3b-instruct": ("moe", 3.3, _moe(), "raw params_b (unverified): 30.5B total / 3.3B active"),
    "qwen3.5-0.8b": ("hybrid", None, _qwen_hybrid(), _WHY_QWEN),
    "qwen3.5-2b": ("hybrid", None, _qwen_hybrid(), _WHY_QWEN),
    "qwen3.5-4b": ("hybrid", None, _qwen_hybrid(), _WHY_QWEN),
    "qwen3.5-9b": ("hybrid", None, _qwen_hybrid(), _WHY_QWEN),
    "qwen3.5-27b": ("hybrid", None, _qwen_hybrid(", dense"), _WHY_QWEN),
    "qwen3.5-35b-a3b": ("hybrid", 3.0, _qwen_hybrid(" MoE (256 experts)"), _WHY_QWEN),
    "qwen3.6-27b": ("hybrid", None, _qwen_hybrid(", dense"), _WHY_QWEN),
    "qwen3.6-35b-a3b": ("hybrid", 3.0, _qwen_hybrid(" MoE (256 experts)"), _WHY_QWEN),
    "qwen3.8-27b": ("hybrid", None, _qwen_hybrid(", dense"), _WHY_QWEN),
    "llama-4-scout-17b-16e-instruct": ("moe", 17.0, _moe(" (16 experts, multimodal)"), "raw params_b: 17B x 16E"),
    "gemma-4-26b-a4b-it": ("moe", 4.0, _moe(), "name 'A4B' and raw note: ~4B active"),
    "mistral-small-4-119b-2603": ("moe", 6.0, _moe(", 6B or 6.5B active (sources differ)"), "raw params_b"),
    "gpt-oss-20b": ("moe", 3.6, _moe(_GPT_OSS), "raw params_b: 21B total / 3.6B active"),
    "gpt-oss-120b": ("moe", 5.1, _moe(_GPT_OSS), "raw params_b: 117B total / 5.1B active"),
    "granite-4.0-h-tiny": ("hybrid", 1.0, _mamba_hybrid(" MoE"), "raw note: hybrid Mamba-2 MoE"),
    "granite-4.0-h-small": ("hybrid", 9.0, _mamba_hybrid(" MoE"), "raw note: hybrid Mamba-2 MoE"),
    "nvidia-nemotron-3-nano-30b-a3b": (
        "hybrid",
        3.2,
        _mamba_hybrid(" MoE, ~3.2-3.6B active (sources differ)"),
        "raw note: hybrid Mamba-2 MoE",
    ),
    "granite-4.0-micro": ("dense", None, "conventional transformer; its H-Micro sibling is a Mamba-2 hybrid", ""),
    "granite-4.0-nano-1b-350m": ("dense", None, "granite4:1b/350m assumed to be the non-hybrid nano builds", ""),
    "gemma-3n-e2b-it": ("dense", None, "MatFormer with per-layer embeddings: E2B = effective size", ""),
    "gemma-3n-e4b-it": ("dense", None, "MatFormer with per-layer embeddings: E4B = effective size", ""),
    "gemma-4-e2b-it": ("dense", None, "per-layer embeddings: E2B = effective size; raw count larger", ""),
    "gemma-4-e4b-it": ("dense", None, "per-layer embeddings: E4B = effective size; raw count larger", ""),
    "ministral-3-3b": ("dense", None, "3.4B LM + 0.4B vision encoder", ""),
    "ministral-3-8b": ("dense", None, "8.4B LM + 0.4B vision encoder", ""),
    "ministral-3-14b": ("dense", None, "13.5B LM + 0.4B vision encoder", ""),
    "deepseek-coder-v2-lite-instruct": ("moe", 2.4, _moe(), "raw name and params: 15.7B total / 2.4B active"),
}

_K = "general knowledge, not the raw sources"
# id -> (base_weights, note, why). Every model must appear: the build fails on a missing id.
BASE_WEIGHTS: dict[str, tuple[str, str, str]] = {
    **{f"qwen3-{s}": ("yes", f"Qwen/Qwen3-{s.upper()}-Base", _K) for s in ("0.6b", "1.7b", "4b", "8b", "14b")},
    "qwen3-32b": ("no", "no Qwen3-32B-Base was released; only the post-trained model", "raw notes"),
    "qwen3-30b-a3b": ("yes", "Qwen/Qwen3-30B-A3B-Base", "raw note"),
    "qwen3-4b-instruct-2507": ("no", "2507 is post-training only; nearest base: Qwen3-4B-Base (2025-04)", _K),
    "qwen3-30b-a3b-instruct-2507": ("no", "2507 is post-training only; nearest base: Qwen3-30B-A3B-Base", _K),
    "qwen3-coder-30b-a3b-instruct": ("no", "Instruct (and FP8) only; nearest base: Qwen3-30B-A3B-Base", _K),
    "qwen3.5-0.8b": ("yes", "Qwen3.5 small series ships -Base checkpoints (assumed from the 4B)", "raw note"),
    "qwen3.5-2b": ("yes", "Qwen3.5 small series ships -Base checkpoints (assumed from the 4B)", "raw note"),
    "qwen3.5-4b": ("yes", "Qwen/Qwen3.5-4B-Base (apache-2.0)", "raw license fact Q9 and note"),
    "qwen3.5-9b": ("yes", "Qwen3.5 small series ships -Base checkpoints (assumed from the 4B)", "raw note"),
    **dict.fromkeys(
        ("qwen3.5-27b", "qwen3.5-35b-a3b", "qwen3.6-27b", "qwen3.6-35b-a3b", "qwen3.8-27b"),
        ("unknown", "not checked: look for a -Base repo in the Qwen organisation", "no source read"),
    ),
    "llama-3.1-8b-instruct": ("yes", "meta-llama/Llama-3.1-8B", "raw name"),
    "llama-3.2-1b-instruct": ("yes", "meta-llama/Llama-3.2-1B", _K),
    "llama-3.2-3b-instruct": ("yes", "meta-llama/Llama-3.2-3B", _K),
    "llama-3.3-70b-instruct": ("no", "instruct only; nearest base: Llama-3.1-70B", "raw note"),
    "llama-4-scout-17b-16e-instruct": ("yes", "meta-llama/Llama-4-Scout-17B-16E", _K),
    "gemma-3-270m-it": ("yes", "google/gemma-3-270m (pretrained)", _K),
    **{f"gemma-3-{s}-it": ("yes", "PT and IT checkpoints", "raw params_b fact G1") for s in ("1b", "4b", "12b", "27b")},
    "gemma-3n-e2b-it": ("yes", "google/gemma-3n-E2B (pretrained)", _K),
    "gemma-3n-e4b-it": ("yes", "google/gemma-3n-E4B (pretrained)", _K),
    **dict.fromkeys(
        ("gemma-4-e2b-it", "gemma-4-e4b-it", "gemma-4-26b-a4b-it", "gemma-4-31b-it", "gemma-4-12b"),
        ("unknown", "Gemma 1-3 published pretrained checkpoints; not checked for Gemma 4", "no source read"),
    ),
    "phi-4": ("no", "no Phi-4 base was released; fine-tune the post-trained model", "raw note, data README"),
    "phi-4-mini-instruct": ("no", "instruct only (Phi-4 family publishes no base)", "data README"),
    "phi-4-reasoning": ("no", "a reasoning fine-tune of phi-4, which has no base either", "data README"),
    "phi-4-mini-reasoning": ("no", "a reasoning fine-tune of Phi-4-mini; no base", "data README"),
    "mistral-7b-instruct-v0.3": ("yes", "mistralai/Mistral-7B-v0.3", "raw params_b fact MI1"),
    "mistral-nemo-instruct-2407": ("yes", "mistralai/Mistral-Nemo-Base-2407", "raw params_b fact MI1"),
    "mistral-small-3.1-24b-instruct-2503": ("yes", "Mistral-Small-3.1-24B-Base-2503", "raw name and note"),
    "mistral-small-3.2-24b-instruct-2506": (
        "no",
        "instruct-only update; nearest base: Mistral-Small-3.1-24B-Base-2503",
        "raw note",
    ),
    "ministral-8b-instruct-2410": ("no", "only the Instruct checkpoint was published", _K),
    **dict.fromkeys(
        ("ministral-3-3b", "ministral-3-8b", "ministral-3-14b"),
        ("yes", "Base, Instruct and Reasoning per size", "raw fact MI5"),
    ),
    "mistral-small-4-119b-2603": ("unknown", "not checked", "no source read"),
    "deepseek-r1-distill-qwen-7b": ("no", "a distilled fine-tune; upstream base: Qwen2.5-Math-7B", "raw note"),
    "deepseek-r1-distill-llama-8b": ("no", "a distilled fine-tune; upstream base: Llama-3.1-8B", "raw license"),
    "deepseek-r1-0528-qwen3-8b": ("no", "a distilled fine-tune; upstream base: Qwen3-8B-Base", "raw fact Q2"),
    "gpt-oss-20b": ("no", "only the post-trained reasoning model; fine-tunable per the README", _K),
    "gpt-oss-120b": ("no", "only the post-trained reasoning model; fine-tunable per the README", _K),
    "granite-3.3-8b-instruct": ("yes", "ibm-granite/granite-3.3-8b-base", _K),
    **dict.fromkeys(
        ("granite-4.0-micro", "granite-4.0-h-tiny", "granite-4.0-h-small"),
        ("yes", "base + instruct", "raw license fact IB1"),
    ),
    "granite-4.0-nano-1b-350m": ("yes", "nano base checkpoints published with the instruct ones", _K),
    "granite-4.1-8b": ("yes", "dense 3B/8B/30B + base", "raw params_b fact IB2"),
    "granite-4.2-8b": ("no", "instruct/thinking only; nearest base: Granite 4.1 base", "raw note, data README"),
    **{f"smollm2-{s}-instruct": ("yes", "base published (+ base)", "raw name") for s in ("135m", "360m", "1.7b")},
    "smollm3-3b": ("yes", "HuggingFaceTB/SmolLM3-3B-Base", "raw params_b fact HF1"),
    **dict.fromkeys(
        ("olmo-2-0425-1b", "olmo-2-1124-7b", "olmo-2-1124-13b", "olmo-2-0325-32b"),
        ("yes", "base + -Instruct", "raw name"),
    ),
    "olmo-3-7b": ("yes", "Base / Instruct / Think", "raw name"),
    "olmo-3-32b-think": ("yes", "Olmo-3-32B base (a rare fully open 32B base)", "raw name and note"),
    "zephyr-7b-beta": ("no", "a DPO fine-tune; upstream base: Mistral-7B-v0.1", "raw license fact Z1"),
    "openchat-3.5-0106": ("no", "a fine-tune; upstream base: Mistral-7B-v0.1", "raw params_b fact OC1"),
    "nvidia-nemotron-3-nano-30b-a3b": ("unknown", "not checked", "no source read"),
    **{
        f"qwen2.5-{s}-instruct": ("yes", f"Qwen/Qwen2.5-{s.upper()}", "raw name")
        for s in ("7b", "14b", "3b", "1.5b", "coder-1.5b", "coder-3b", "coder-7b", "coder-14b", "math-7b")
    },
    "gemma-2-9b-it": ("yes", "google/gemma-2-9b", "raw name"),
    "gemma-2-2b-it": ("yes", "google/gemma-2-2b", "raw name"),
    "codegemma-7b-it": ("yes", "google/codegemma-7b", "raw name"),
    "deepseek-coder-v2-lite-instruct": ("yes", "deepseek-ai/DeepSeek-Coder-V2-Lite-Base", "raw name"),
    "starcoder2-15b": ("yes", "this is the base model; no instruction-tuned checkpoint", "raw name"),
    "starcoder2-7b": ("yes", "this is the base model; no instruction-tuned checkpoint", "raw name"),
    "granite-3.3-2b-instruct": ("yes", "ibm-granite/granite-3.3-2b-base", "raw name"),
    "aya-expanse-8b": ("unknown", "not checked", "no source read"),
    "phi-3.5-mini-instruct": (
        "unknown",
        "not checked: look for a base repo in the microsoft organisation",
        "no source read",
    ),
}

LLAMA = [
    "700M monthly active users cap: above it you need a separate licence from Meta",
    "attribution: display 'Built with Llama'",
    "naming: a distributed fine-tune's name must start with 'Llama'",
    "Meta's Acceptable Use Policy applies",
]
LLAMA4_EU = (
    "EU exclusion: rights to the multimodal Llama 4 models are not granted to individuals domiciled in, or "
    "companies with a principal place of business in, the EU (end users of products built on them excepted)"
)
GEMMA = [
    "Gemma Terms of Use (custom, not OSI): a redistributed or fine-tuned model must pass on its use restrictions",
    "Gemma Prohibited Use Policy applies",
]
NVIDIA = [
    "NVIDIA Open Model License (custom): keep the licence notice when distributing the model or derivatives",
    "rights end if you bypass or disable the model's safety guardrails without a comparable substitute",
]
# id -> (commercial_use or None to map the raw value, conditions, why)
LICENCE: dict[str, tuple[str | None, list[str], str]] = {
    "ministral-8b-instruct-2410": (
        None,
        [
            "Mistral AI Research License: research and non-commercial use only; commercial use needs a licence "
            "from Mistral AI"
        ],
        "raw license fact MI4 and commercial_use",
    ),
    "deepseek-r1-distill-llama-8b": (
        None,
        [*LLAMA, "licence inherited from Llama-3.1-8B even though the repository says MIT"],
        "raw license fact D1",
    ),
    "llama-4-scout-17b-16e-instruct": (None, [*LLAMA, LLAMA4_EU], "raw license fact L4 and commercial_use"),
    "gpt-oss-20b": (None, ["gpt-oss usage policy applies"], "raw license fact OA1"),
    "gpt-oss-120b": (None, ["gpt-oss usage policy applies"], "raw license value"),
    "deepseek-coder-v2-lite-instruct": (
        None,
        ["DeepSeek Model License: use-based restrictions apply to the model and derivatives (the code is MIT)"],
        "raw license and commercial_use",
    ),
    "zephyr-7b-beta": (
        "conditional",
        [
            "some model-card revisions say 'should only be used for educational and research purposes'",
            "training data was generated or rated by OpenAI models (UltraChat, UltraFeedback): check those "
            "terms before commercial use",
        ],
        "raw commercial_use 'yes (MIT), but see flags' and note; dataset provenance from general knowledge",
    ),
}
OPENRAIL = [
    "BigCode OpenRAIL-M: use-based restrictions (Attachment A) bind the model and every derivative",
    "a redistributed or fine-tuned model must pass the same use restrictions on",
]
FAMILY_CONDITIONS = {
    "Llama": (LLAMA, "raw license facts L1-L3"),
    "Gemma 3": (GEMMA, "raw commercial_use (Gemma Terms of Use + Prohibited Use Policy); pass-on duty from " + _K),
    "Gemma 2": (GEMMA, "raw commercial_use (Gemma Terms of Use); pass-on duty from " + _K),
    "CodeGemma": (GEMMA, "raw commercial_use (Gemma Terms of Use); pass-on duty from " + _K),
    "StarCoder2": (OPENRAIL, "raw commercial_use (OpenRAIL-M use-based restrictions)"),
    "Nemotron": (NVIDIA, "raw license value; the terms' details from " + _K),
}

# Tags that moved to another build: drop them from the old model (kept under the new one).
MOVED_TAGS = {
    ("qwen3-4b", "qwen3:4b"): "qwen3:4b now serves the 2507 build (Ollama lists it with 256K context)",
    ("qwen3-30b-a3b", "qwen3:30b"): "qwen3:30b now serves the 2507 build (Qwen README, Ollama listing)",
}
EXTRA_TAGS = {"gemma-3-4b-it": ("gemma3", "raw listing: gemma3:4b is the gemma3 default tag")}


def slug(name: str) -> str:
    bare = re.sub(r"\s*\(.*?\)", "", name)
    return re.sub(r"[^a-z0-9.]+", "-", bare.lower()).strip("-")


def inferred(field: str, claim: str) -> Fact:
    return Fact(field=field, claim=claim, source=None, source_kind=INFERENCE_KIND, status="unverified")


def convert(raw: dict[str, Any]) -> CatalogModel:
    model_id = slug(raw["name"])
    facts = [
        Fact(
            field=s["field"],
            claim=s["claim"],
            source=s["source"],
            source_kind=NOTE_KIND if s["status"] == "note" or not s["source"] else s["source_kind"],
            status="unverified" if s["status"] == "note" else s["status"],
            source_id=s["source_id"],
        )
        for s in raw["sources"]
    ]
    arch, active, arch_note, arch_why = ARCHITECTURE.get(model_id, ("dense", None, "", ""))
    facts.append(inferred("architecture", f"{arch}: {arch_why or 'no MoE or hybrid design in name or sources'}"))
    base, base_note, base_why = BASE_WEIGHTS[model_id]
    facts.append(inferred("base_weights", f"{base}: {base_note} (from {base_why})"))

    commercial, conditions, licence_why = LICENCE.get(model_id, (None, [], ""))
    for prefix, (family_conditions, why) in FAMILY_CONDITIONS.items():
        if raw["family"].startswith(prefix) and not conditions:
            conditions, licence_why = family_conditions, why
    if commercial is None:
        value = raw["commercial_use"].lower()
        commercial = "no" if value.startswith("no") else "conditional" if "condition" in value else "yes"
    if conditions or commercial != "yes":
        facts.append(inferred("license_conditions", f"{commercial}; conditions from {licence_why}"))

    released = raw["released"]
    found = re.search(r"\d{4}-\d{2}", released)
    month = found.group(0) if found and "after" not in released else None
    if month != released:
        facts.append(inferred("released", f"catalog keeps {month}; raw listing: {released!r}"))

    tags, verified_tags = [], []
    confirmed = any(s["field"] == "ollama_tags" and s["status"] == "verified" for s in raw["sources"])
    for entry in raw["ollama_tags"]:
        tag, _, rest = entry.partition(" ")
        if (model_id, tag) in MOVED_TAGS:
            facts.append(inferred("ollama_tags", f"dropped {tag}: {MOVED_TAGS[model_id, tag]}"))
            continue
        if rest:
            facts.append(inferred("ollama_tags", f"{tag}: raw listing note {rest}"))
        tags.append(tag)
        if confirmed and "unverified" not in rest:
            verified_tags.append(tag)
    if model_id in EXTRA_TAGS:
        tag, why = EXTRA_TAGS[model_id]
        tags.append(tag)
        facts.append(inferred("ollama_tags", f"added {tag}: {why}"))

    return CatalogModel(
        id=model_id,
        family=raw["family"],
        name=raw["name"],
        params_b=raw["params_b"],
        active_params_b=active,
        architecture=arch,  # type: ignore[arg-type]
        architecture_note=arch_note,
        license=raw["license"],
        commercial_use=commercial,  # type: ignore[arg-type]
        license_conditions=conditions,
        context_tokens=raw["context_tokens"],
        released=month,
        focus=raw["focus"],
        ollama_tags=tags,
        gguf=raw["gguf"],
        base_weights=base,  # type: ignore[arg-type]
        base_weights_note=base_note,
        traits=raw["traits"],
        ollama_tags_verified=verified_tags,
        community=raw["community"],
        known_issues=raw["known_issues"],
        facts=facts,
    )


def not_primary(model: CatalogModel) -> list[str]:
    """What the model claims as verified on a non-primary source (the build refuses it)."""
    bad = [f"{f.field}: {f.source}" for f in model.facts if f.status == "verified" and not cites_only_primary(f.source)]
    bad += [f"known issue: {k.source}" for k in model.known_issues if not cites_only_primary(k.source)]
    for tag in model.traits:
        fact = model.trait_fact(tag)
        if fact is None or fact.status != "verified":
            bad.append(f"trait {tag}: no verified primary fact")
    return bad


def build(raw_path: Path) -> str:
    rows = [json.loads(line) for line in raw_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    catalog = Catalog(as_of=AS_OF, models=[convert(row) for row in rows])
    unused = (set(ARCHITECTURE) | set(BASE_WEIGHTS) | set(LICENCE)) - set(catalog.ids())
    if unused:
        raise SystemExit(f"build_catalog: table ids match no model: {sorted(unused)}")
    refused = [f"{m.id}: {problem}" for m in catalog.models for problem in not_primary(m)]
    if refused:
        raise SystemExit("build_catalog: verified facts must cite primary sources only:\n  " + "\n  ".join(refused))
    owners: dict[str, str] = {}
    for model in catalog.models:
        for tag in model.ollama_tags:
            if tag in owners:
                raise SystemExit(f"build_catalog: tag {tag} is listed under {owners[tag]} and {model.id}")
            owners[tag] = model.id
    return json.dumps(catalog.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="model-facts.jsonl")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if --out differs from a fresh build")
    args = parser.parse_args(argv)
    text = build(args.raw)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            sys.stderr.write(f"{args.out} is stale: run scripts/build_catalog.py {args.raw}\n")
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    sys.stderr.write(f"wrote {args.out} ({text.count(chr(10))} lines)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
