"""STOP/HELP/START keywords, and the fixed texts the line sends without AI.

A keyword is the whole message: trimmed, case-insensitive, trailing punctuation allowed
("stop.", "STOP!"). Anything more is conversation: "I need help with mom" is not HELP and
"stop it" is not STOP (the original matched keywords anywhere in a sentence; see domain.md).

Every text here is written by people, is never gated, and is sized in the tests (the
crisis replies live in crisis_replies.toml): the help text fits two segments, the confirmations one.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "STOP"
    HELP = "HELP"
    START = "START"


_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("stop", "unsubscribe", "end", "quit", "cancel", "stopall", "revoke", "optout"), Keyword.STOP
    ),
    **dict.fromkeys(("start", "yes", "unstop"), Keyword.START),
    **dict.fromkeys(("help", "info"), Keyword.HELP),
}

_QUOTES = "\"'\u2018\u2019\u201c\u201d"
_TRAILING = ".!?,;:\u2026"

HELP_REPLY = (
    "Careline is a text line for family caregivers: a place to talk things through and find "
    "support. It is not an emergency service. In a crisis, call or text 988 or text 741741; "
    "in an emergency, call 911. Reply STOP to opt out, START to come back."
)

STOP_CONFIRMATION = (
    "You're unsubscribed from Careline and won't get more texts from us. "
    "Reply START any time to come back. In a crisis, call or text 988."
)

START_CONFIRMATION = (
    "Welcome back to Careline. It's good to hear from you. Text any time; "
    "reply HELP for help or STOP to opt out."
)


def parse_keyword(text: str) -> Keyword | None:
    """The keyword ``text`` is, if the whole message is one; otherwise None."""
    word = unicodedata.normalize("NFKC", text).strip().strip(_QUOTES).rstrip(_TRAILING).strip()
    return _KEYWORDS.get(word.casefold())
