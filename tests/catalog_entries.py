"""Catalog entries tests build by hand: a clean model that varies one thing at a time.

A dense 8B Apache model with published base weights, a confirmed Ollama tag and a sourced fact per trait; tests
pass only what they vary (`synthetic_model(("code",), base_weights="no")`).
"""

from __future__ import annotations

from base_model_selector.research.catalog import CatalogModel, Fact

CARD = "https://huggingface.co/Qwen/plain"


def synthetic_model(traits: tuple[str, ...] = (), **changes: object) -> CatalogModel:
    facts = [Fact(field="license", claim="Apache 2.0", source=CARD, status="verified")]
    facts += [Fact(field=f"trait:{t}", claim=f"card says {t}", source=CARD, status="verified") for t in traits]
    fields: dict[str, object] = {
        "id": "plain-8b",
        "family": "Plain",
        "name": "Plain-8B",
        "params_b": 8.0,
        "architecture": "dense",
        "license": "Apache-2.0",
        "commercial_use": "yes",
        "context_tokens": 32768,
        "base_weights": "yes",
        "ollama_tags": ["plain:8b"],
        "ollama_tags_verified": ["plain:8b"],
        "traits": list(traits),
        "facts": facts,
    }
    fields.update(changes)
    return CatalogModel.model_validate(fields)
