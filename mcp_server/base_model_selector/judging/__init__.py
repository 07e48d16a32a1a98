"""Step 6: the rubric, deterministic checks, the LLM judge, the agent as judge, scoring and agreement."""
