"""Cleaning generator replies into user messages, spotting refusals, and near-duplicate detection."""

from __future__ import annotations

import pytest

from base_model_selector.scenarios.text import (
    DedupIndex,
    clean_reply,
    is_refusal,
    normalise,
    scenario_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("How do I reset my password?", "How do I reset my password?", id="plain"),
        pytest.param('"How do I reset my password?"', "How do I reset my password?", id="double-quotes"),
        pytest.param("“My export keeps failing”", "My export keeps failing", id="curly-quotes"),
        pytest.param(
            "Here is a realistic opening message:\n\nMy invoice shows two charges for March.",
            "My invoice shows two charges for March.",
            id="preamble-line",
        ),
        pytest.param(
            "Sure! Here's an example message: why is the sync so slow today",
            "why is the sync so slow today",
            id="preamble-inline",
        ),
        pytest.param("User: can I get a refund?", "can I get a refund?", id="role-label"),
        pytest.param("**User:** can I get a refund?", "can I get a refund?", id="bold-role-label"),
        pytest.param(
            'Here is the message:\n"User: can I get a refund?"', "can I get a refund?", id="preamble-quote-label"
        ),
        pytest.param("```\nThe app crashes on login since 4.2\n```", "The app crashes on login since 4.2", id="fence"),
        pytest.param(
            "Here is a user message:\n```text\nThe app crashes on login\n```",
            "The app crashes on login",
            id="preamble-and-fence",
        ),
        pytest.param(
            "can I get a refund?\n\nAssistant: Of course! Let me help.",
            "can I get a refund?",
            id="drops-assistant-turn",
        ),
        pytest.param(
            "I feel stuck at work.\n\nNote: this message tests how the coach handles vague distress.",
            "I feel stuck at work.",
            id="trailing-note",
        ),
        pytest.param("<think>plan the message</think>hello there", "hello there", id="think-block"),
        pytest.param("   \n  ", "", id="blank"),
        pytest.param('""', "", id="empty-quotes"),
    ],
)
def test_generator_reply_is_cleaned_to_the_user_message(raw: str, expected: str) -> None:
    assert clean_reply(raw) == expected


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("Here's my query:\n```sql\nSELECT * FROM orders;\n```\nwhy is it slow?", id="sql-fence-kept"),
        pytest.param("I can't write this query without a self join, can you help?", id="cant-write-query"),
        pytest.param("I'm sorry, but your app deleted my notes!", id="angry-apology"),
        pytest.param("Agent: we are looking into it\nMe: it's been a week. What now?", id="pasted-transcript"),
    ],
)
def test_real_user_messages_are_left_intact(message: str) -> None:
    assert clean_reply(message) == message
    assert not is_refusal(message)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param("I'm sorry, but I can't help with that.", id="sorry-cant-help"),
        pytest.param("I cannot generate messages that depict self-harm.", id="cannot-generate"),
        pytest.param("I won't write this kind of content.", id="wont-write"),
        pytest.param("As an AI, I am not able to do this.", id="as-an-ai"),
        pytest.param("I'm not comfortable writing a message like that.", id="not-comfortable"),
        pytest.param("Sorry, I can't assist with this request.", id="cant-assist-request"),
    ],
)
def test_generator_refusals_are_recognised(reply: str) -> None:
    assert is_refusal(clean_reply(reply))


@pytest.mark.parametrize(
    ("a", "b", "duplicate"),
    [
        pytest.param("How do I reset my password?", "how do i reset my password", True, id="normalised-equal"),
        pytest.param("How do I reset my password please", "How do I reset my password", True, id="high-overlap"),
        pytest.param("How do I reset my password?", "How do I export my invoices?", False, id="different"),
        pytest.param("Refund", "refund!", True, id="one-word"),
    ],
)
def test_near_duplicates_are_detected(a: str, b: str, duplicate: bool) -> None:
    index = DedupIndex()
    index.add("s-1", a)
    assert (index.duplicate_of(b) == "s-1") is duplicate


def test_scenario_id_is_stable_and_depends_on_cell_and_normalised_text() -> None:
    first = scenario_id("billing", "refunds", "terse", None, "Can I get a refund?")
    assert first == scenario_id("billing", "refunds", "terse", None, "can i get a refund")
    assert first != scenario_id("billing", "refunds", "detailed", None, "Can I get a refund?")
    assert first.startswith("s-")
    assert normalise("Ｈello,  WORLD!") == "hello world"
