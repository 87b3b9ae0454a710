"""The caregiver's language: which one the line writes in, and when that changes.

It is kept in conversation's slice as ``state["language"]``::

    {"code": "es", "by": "detected" | "keyword", "at": <when it was set>, "decisive": <n>}

and read by everything that writes a reply (``language_of``); until something sets it the line
writes in English.

Two things set it, and nothing else:

- **Detection, over the first messages.** Each of the caregiver's messages is examined until
  ``FIRST_MESSAGES`` of them have been *decisive*: three words or more, and the detector at
  least ``MIN_CONFIDENCE`` sure. A decisive message sets the language (the latest one wins, so
  "Hi, I need help" followed by "mi mamá no duerme y estoy agotada" ends in Spanish). A short
  text ("ok", "si", "gracias", an emoji) is never decisive: one or two words are where the
  detector errs most, and both languages share them. After the first messages, detection stops
  (no per-message cost, and no flipping on a stray English phrase in a Spanish conversation).
- **A Spanish greeting as the very first message** ("hola", "buenas tardes"): too short to be
  decisive, but a caregiver who opens in Spanish is welcomed in Spanish. It counts as no
  decisive message, so the first real sentence still decides.
- **The keywords** ESPAÑOL / ESPANOL / SPANISH and ENGLISH / INGLÉS / INGLES
  (``safety.keywords``): they always win, at any time, and detection never overrides them.

The decisions here are pure: the handler runs the detector (``careline_conversation.language``)
only when ``needs_detection`` says so, and passes its ``Detection`` in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Document = dict[str, Any]
Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")
DEFAULT: Language = "en"

FIRST_MESSAGES = 3
"""Decisive messages examined before detection stops."""
MIN_WORDS = 3
"""Fewer words never set the language (measured in ``make eval``: 1-2 words are where it errs)."""
MIN_CONFIDENCE = 0.8
"""The detector's confidence in its top language (two languages: 0.5 is a coin toss). The
eval set's few 3+-word misses are Spanglish and 3-word questions scored 0.5 to 0.8."""


@dataclass(frozen=True)
class Detection:
    """What the detector made of one message: its best language (None: no letters at all),
    how sure it is (0 to 1) and how many words the message has."""

    language: Language | None
    confidence: float
    words: int

    @property
    def decisive(self) -> bool:
        """Whether this message may set the caregiver's language."""
        return self.language is not None and self.words >= MIN_WORDS and self.confidence >= MIN_CONFIDENCE


def language_of(state: Document | None) -> Language:
    """The language the line writes to this caregiver in (English until something sets it)."""
    code = ((state or {}).get("language") or {}).get("code")
    return "es" if code == "es" else DEFAULT


def known(state: Document | None) -> Language | None:
    """The caregiver's language once something set it (a detection or a keyword), else None."""
    code = ((state or {}).get("language") or {}).get("code")
    return "es" if code == "es" else "en" if code == "en" else None


def needs_detection(state: Document | None) -> bool:
    """Whether the next message should go through the detector: only among the first messages,
    and never once the caregiver chose a language with a keyword."""
    stored = (state or {}).get("language") or {}
    if stored.get("by") == "keyword":
        return False
    return int(stored.get("decisive", 0)) < FIRST_MESSAGES


def after_detection(state: Document | None, detection: Detection, now: datetime) -> Document:
    """The state fields a detected message changes: none unless it is decisive (and only among
    the first messages; a keyword's choice stands)."""
    if not detection.decisive or not needs_detection(state):
        return {}
    assert detection.language is not None
    stored = (state or {}).get("language") or {}
    return {
        "language": {
            "code": detection.language,
            "by": "detected",
            "at": now,
            "decisive": int(stored.get("decisive", 0)) + 1,
        }
    }


_SPANISH_GREETINGS = frozenset(
    {"hola", "buenas", "buen dia", "buenos dias", "buenas tardes", "buenas noches", "saludos"}
    | {"hola buenas", "hola buen dia", "hola buenos dias", "hola buenas tardes", "hola buenas noches"}
)


def greets_in_spanish(message: str) -> bool:
    """Whether the whole message is a Spanish greeting ("Hola!", "buenos días")."""
    bare = unicodedata.normalize("NFKD", message.casefold())
    bare = "".join(c for c in bare if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z]+", bare)) in _SPANISH_GREETINGS


def greeted_in_spanish(now: datetime) -> Document:
    """The state a Spanish greeting sets: Spanish, as a detection with no decisive message yet."""
    return {"language": {"code": "es", "by": "detected", "at": now, "decisive": 0}}


def switched(language: Language, now: datetime) -> Document:
    """The state fields an explicit switch (ESPAÑOL / ENGLISH) sets: it stands until the next one."""
    return {"language": {"code": language, "by": "keyword", "at": now}}
