"""Step 5: run the model under test on every scenario, single turn, with the study's system prompt."""
