"""Recognising the rules agent's answer in a test, whatever words its seed chose.

The rules agent picks its acknowledgement and next step from a small library per intent, seeded
by the message id (``careline_conversation.intents.tips``): a test that asserted one fixed phrase
passed or failed with the message id. These helpers accept any acknowledgement of the intent.
"""

from __future__ import annotations

from careline_conversation.intents.classifier import classify
from careline_conversation.intents.tips import library


def opens_as(text: str, *intents: str) -> bool:
    """Whether ``text`` opens with one of the acknowledgements of ``intents`` (either language;
    what precedes the first placeholder, such as the caregiver's name, must match)."""
    lib = library()
    for intent in intents:
        for acks in lib.intents[intent].acks.values():
            for ack in acks:
                head = ack.split("{")[0]
                if len(head) >= 6 and text.startswith(head):
                    return True
    return False


def answers(text: str, message: str) -> bool:
    """Whether ``text`` is the rules agent's kind of answer to ``message``: it opens with an
    acknowledgement of the intent ``message`` is classified as."""
    return opens_as(text, classify(message).intent)
