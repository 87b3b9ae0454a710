"""STOP/HELP/START and ESPAÑOL/ENGLISH keywords, and the fixed texts the line sends without AI.

A keyword is the whole message: trimmed, case-insensitive, trailing punctuation allowed
("stop.", "STOP!"). Anything more is conversation: "I need help with mom" is not HELP and
"stop it" is not STOP (the original matched keywords anywhere in a sentence; see domain.md).
ESPAÑOL and ENGLISH switch the language the line writes in (``domain.language``), with or
without the accent, in either language ("spanish", "inglés", "en español").

Every text here is written by people, is never gated, and is sized in the tests (the
crisis replies live in crisis_replies.toml): the help text fits two segments, the confirmations one.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Literal


class Keyword(StrEnum):
    STOP = "STOP"
    HELP = "HELP"
    START = "START"
    SPANISH = "ESPAÑOL"
    ENGLISH = "ENGLISH"


_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("stop", "unsubscribe", "end", "quit", "cancel", "stopall", "revoke", "optout"), Keyword.STOP
    ),
    **dict.fromkeys(("start", "yes", "unstop"), Keyword.START),
    **dict.fromkeys(("help", "info"), Keyword.HELP),
    **dict.fromkeys(
        ("español", "espanol", "spanish", "en español", "en espanol", "in spanish"), Keyword.SPANISH
    ),
    **dict.fromkeys(("english", "inglés", "ingles", "en inglés", "en ingles", "in english"), Keyword.ENGLISH),
}

SWITCHES: dict[Keyword, Literal["en", "es"]] = {Keyword.SPANISH: "es", Keyword.ENGLISH: "en"}
"""The language each switch keyword chooses."""

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


SWITCH_CONFIRMATION: dict[str, str] = {
    "es": "Listo: desde ahora te escribo en español. Si prefieres inglés, responde ENGLISH.",
    "en": "OK: I'll text you in English from now on. For Spanish, reply ESPAÑOL.",
}
"""The reply to a switch, in the language switched to (each fits one segment)."""


def parse_keyword(text: str) -> Keyword | None:
    """The keyword ``text`` is, if the whole message is one; otherwise None."""
    word = unicodedata.normalize("NFKC", text).strip().strip(_QUOTES).rstrip(_TRAILING).strip()
    return _KEYWORDS.get(" ".join(word.casefold().split()))
