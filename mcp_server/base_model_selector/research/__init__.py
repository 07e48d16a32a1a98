"""Steps 1–2: research candidates (shipped catalog + web search), rate their domain fit, build the
comparison table, and select a primary and a backup.
"""
