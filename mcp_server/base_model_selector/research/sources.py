"""Which sources count as primary, so a "verified" fact means "read where the publisher said it".

A catalog fact is only as good as the page it was read on. Mirrors and aggregators (hff.sound2gd.work,
fast.hugflare.com, *.workers.dev, apxml.com, model wikis, "can I run it" sites) copy model cards with
mistakes, lag behind them, or invent numbers; an ML engineer cannot audit a decision that rests on them. So a
fact may carry the status `verified` only when every URL it cites is on this allow-list: the publisher's own
organisation on huggingface.co, the publisher's blog, docs or GitHub, and Ollama's library (for tags and pull
counts). The catalog build refuses anything else (`scripts/build_catalog.py`), the test suite checks the shipped
catalog, and research counts only primary verified facts as evidence.

    is_primary("https://huggingface.co/Qwen/Qwen3-8B")          # True
    is_primary("https://hff.sound2gd.work/Qwen/Qwen3-8B")      # False
    primary_fields(model)                                       # {'params_b', 'license', 'trait:code', ...}

A pattern is a host, optionally followed by a path prefix that must start the URL's path at a segment boundary;
`www.` is ignored and hosts must match exactly (no subdomain, so `huggingface.co.evil.com` is not primary).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from base_model_selector.research.catalog import CatalogModel, Fact

PRIMARY_SOURCES: tuple[str, ...] = (
    # publishers' organisations on Hugging Face (model cards, repo files, collections)
    "huggingface.co/Qwen/",
    "huggingface.co/meta-llama/",
    "huggingface.co/google/",
    "huggingface.co/microsoft/",
    "huggingface.co/mistralai/",
    "huggingface.co/deepseek-ai/",
    "huggingface.co/openai/",
    "huggingface.co/ibm-granite/",
    "huggingface.co/HuggingFaceTB/",
    "huggingface.co/allenai/",
    "huggingface.co/nvidia/",
    "huggingface.co/HuggingFaceH4/",
    "huggingface.co/openchat/",
    "huggingface.co/bigcode/",
    "huggingface.co/CohereForAI/",
    "huggingface.co/CohereLabs/",
    "huggingface.co/collections/ibm-granite/",
    "huggingface.co/collections/Qwen/",
    "huggingface.co/blog/",
    # publishers' blogs, docs and GitHub
    "qwenlm.github.io/",
    "qwen.ai/",
    "github.com/QwenLM/",
    "ai.meta.com/",
    "llama.com/",
    "github.com/meta-llama/",
    "blog.google/",
    "developers.googleblog.com/",
    "ai.google.dev/",
    "github.com/google-deepmind/",
    "azure.microsoft.com/",
    "techcommunity.microsoft.com/",
    "mistral.ai/",
    "docs.mistral.ai/",
    "github.com/mistralai/",
    "github.com/deepseek-ai/",
    "openai.com/",
    "github.com/openai/",
    "ibm.com/",
    "github.com/ibm-granite/",
    "allenai.org/",
    "github.com/allenai/",
    "nvidia.com/",
    "developer.nvidia.com/",
    "github.com/huggingface/smollm",
    "github.com/imoneoi/openchat",
    "github.com/bigcode-project/",
    "cohere.com/",
    # Ollama's library (tags, pull counts) and its issue tracker, llama.cpp's (known issues)
    "ollama.com/library/",
    "ollama.com/search",
    "ollama.ai/library/",
    "github.com/ollama/ollama/",
    "github.com/ggml-org/llama.cpp/",
)

_URL = re.compile(r"https?://[^\s;,<>\"')]+")


def _split(pattern: str) -> tuple[str, str]:
    host, _, path = pattern.partition("/")
    return host.lower(), "/" + path if path else ""


_PATTERNS = tuple(_split(p) for p in PRIMARY_SOURCES)


def is_primary(url: str) -> bool:
    """True when `url` is an http(s) URL on a primary host and under one of its allowed paths."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower().removeprefix("www.")
    path = parts.path or "/"
    for allowed_host, prefix in _PATTERNS:
        if host != allowed_host:
            continue
        if not prefix or (path.startswith(prefix) if prefix.endswith("/") else path in (prefix, prefix + "/")):
            return True
        if not prefix.endswith("/") and path.startswith(prefix + "/"):
            return True
    return False


def urls_in(source: str | None) -> list[str]:
    """Every http(s) URL a fact's `source` cites (sources may list several, separated by ' ; ')."""
    return [u.rstrip(".") for u in _URL.findall(source or "")]


def cites_only_primary(source: str | None) -> bool:
    """True when the source cites at least one URL and every URL it cites is primary."""
    urls = urls_in(source)
    return bool(urls) and all(is_primary(u) for u in urls)


def is_primary_fact(fact: Fact) -> bool:
    """A fact that counts as evidence: status verified, read on primary sources only."""
    return fact.status == "verified" and cites_only_primary(fact.source)


def non_primary_verified(model: CatalogModel) -> list[Fact]:
    """Facts marked verified whose sources are not all primary (a user entry may claim too much)."""
    return [f for f in model.facts if f.status == "verified" and not cites_only_primary(f.source)]


def primary_fields(model: CatalogModel) -> set[str]:
    """The fields (params_b, license, trait:code, ...) backed by at least one primary verified fact."""
    return {f.field for f in model.facts if is_primary_fact(f)}
