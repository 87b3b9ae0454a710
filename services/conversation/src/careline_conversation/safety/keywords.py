"""STOP/HELP/START and ESPAÑOL/ENGLISH keywords, and the fixed texts the line sends without AI.

A keyword is the whole message: trimmed, case-insensitive, trailing punctuation allowed
("stop.", "STOP!"). Anything more is conversation: "I need help with mom" is not HELP and
"stop it" is not STOP (the original matched keywords anywhere in a sentence; see domain.md).
ESPAÑOL and ENGLISH switch the language the line writes in (``domain.language``), with or
without the accent, in either language ("spanish", "inglés", "en español"). BILLING (FACTURA)
and ANNUAL (ANUAL) ask billing for a link (``BILLING_PLANS``).

Spanish words work too ("ayuda", "parar", "baja"): Careline reads them itself, since Twilio's
own opt-out filtering knows only the English words unless Advanced Opt-Out is set up with
others (https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out). A keyword written
in Spanish gets its reply in Spanish when the caregiver's language is not known yet
(``spanish_keyword``). The texts the keywords answer with are in ``domain/data/replies.toml``.
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
    BILLING = "BILLING"
    ANNUAL = "ANNUAL"


_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("stop", "unsubscribe", "end", "quit", "cancel", "stopall", "revoke", "optout"), Keyword.STOP
    ),
    **dict.fromkeys(("parar", "alto", "baja", "detener", "cancelar"), Keyword.STOP),
    **dict.fromkeys(("start", "yes", "unstop"), Keyword.START),
    **dict.fromkeys(("comenzar", "empezar"), Keyword.START),
    **dict.fromkeys(("help", "info"), Keyword.HELP),
    **dict.fromkeys(("ayuda", "información", "informacion"), Keyword.HELP),
    **dict.fromkeys(
        ("español", "espanol", "spanish", "en español", "en espanol", "in spanish"), Keyword.SPANISH
    ),
    **dict.fromkeys(("english", "inglés", "ingles", "en inglés", "en ingles", "in english"), Keyword.ENGLISH),
    **dict.fromkeys(("billing", "subscription", "factura", "facturación", "facturacion"), Keyword.BILLING),
    **dict.fromkeys(("annual", "yearly", "anual"), Keyword.ANNUAL),
}

SWITCHES: dict[Keyword, Literal["en", "es"]] = {Keyword.SPANISH: "es", Keyword.ENGLISH: "en"}
"""The language each switch keyword chooses."""

BILLING_PLANS: dict[Keyword, Literal["monthly", "annual"]] = {
    Keyword.BILLING: "monthly",
    Keyword.ANNUAL: "annual",
}
"""BILLING (FACTURA) asks for the billing portal, or a monthly checkout link with no
subscription yet; ANNUAL (ANUAL) for the annual plan's checkout (or the portal, where a
subscriber switches plans)."""

_QUOTES = "\"'\u2018\u2019\u201c\u201d"
_TRAILING = ".!?,;:\u2026"

_SPANISH = frozenset(
    {"parar", "alto", "baja", "detener", "cancelar", "comenzar", "empezar", "ayuda"}
    | {"información", "informacion"}
)


def _word(text: str) -> str:
    word = unicodedata.normalize("NFKC", text).strip().strip(_QUOTES).rstrip(_TRAILING).strip()
    return " ".join(word.casefold().split())


def parse_keyword(text: str) -> Keyword | None:
    """The keyword ``text`` is, if the whole message is one; otherwise None."""
    return _KEYWORDS.get(_word(text))


def spanish_keyword(text: str) -> bool:
    """Whether ``text`` is a STOP/HELP/START keyword written in Spanish ("ayuda", "baja")."""
    return _word(text) in _SPANISH
