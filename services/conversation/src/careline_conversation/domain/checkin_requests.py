"""What a caregiver's text asks about their check-ins: how often, a pause, or a time of day.

The grammar, all of it whole-message (like STOP), in English and Spanish; the phrases are data
(``data/checkins.toml``):

- **Keywords**: DAILY / DIARIO, WEEKLY / SEMANAL (and "once a week"), PAUSE / PAUSA,
  RESUME / REANUDAR.
- **A time of day**: a word ("morning", "afternoon", "evening", "mañanas", "por la tarde",
  "noches", "noon"), or a clock time ("7pm", "7:30 pm", "19:00", "at 7", "a las 7 de la tarde"),
  either after an optional lead-in ("text me", "check ins", "escríbeme", "prefiero"). A clock
  time needs "at" / "a las", a colon, or am/pm: a bare "7" answers a question, it is not a time.
  Without am/pm, 1 to 8 mean the afternoon or evening (the line texts 09:00-20:00); "de la
  mañana" / "de la tarde" / "de la noche" say which. Whether the time fits the send window is
  profile's call (it knows the window and says so).
- **"Text me less"**: the intent classifier's ``text_less`` ("stop texting me so much", "menos
  mensajes"), when the message is about the line's texts (``[less].about_texts``). It asks for
  one step down; when it names a frequency ("only once a week please") it asks for that one.

``parse`` is pure; ``turn.decide`` calls it after the safety steps and STOP/HELP/START.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from careline_conversation.intents import classify

Change = Literal["daily", "weekly", "pause", "resume", "less", "time"]
DATA_FILE = ("data", "checkins.toml")
AFTERNOON_HOURS = range(1, 9)
"""Hours without am/pm read as the afternoon or evening: "at 7" is 7 PM, never 7 AM."""

_POLITE = re.compile(
    r"^(?:(?:please|pls|plz|por favor|porfa|ok|okay),?\s+)+|(?:,?\s+(?:please|pls|plz|por favor|porfa))+$"
)
_CLOCK = re.compile(
    r"^(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*"
    r"(?P<mark>am|pm|a\.?\s?m\.?|p\.?\s?m\.?|de la manana|de la tarde|de la noche|hrs|h)?$"
)


@dataclass(frozen=True)
class CheckinRequest:
    """What the caregiver asked: ``change``, and for a time of day the ``hour`` and ``minute``."""

    change: Change
    hour: int | None = None
    minute: int = 0


@dataclass(frozen=True)
class _Grammar:
    keywords: dict[str, Change]
    times: dict[str, tuple[int, int]]
    lead: tuple[str, ...]
    at: tuple[str, ...]
    about_texts: re.Pattern[str]
    weekly: re.Pattern[str]


def parse(message: str) -> CheckinRequest | None:
    """The check-in request the whole message is, or None when it is something else."""
    grammar = _grammar()
    text = plain(message)
    if not text:
        return None
    keyword = grammar.keywords.get(text)
    if keyword is not None:
        return CheckinRequest(keyword)
    at = time_of_day(text, grammar)
    if at is not None:
        return CheckinRequest("time", *at)
    return _less(message, text, grammar)


def plain(message: str) -> str:
    """The message as the grammar reads it: lower case, no accents, hyphens as spaces, no quotes,
    no trailing punctuation, no "please"."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", message).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[\"'\u2018\u2019\u201c\u201d]", "", text).replace("-", " ")
    text = " ".join(text.split()).strip(" .!?,;:\u2026¡¿")
    return _POLITE.sub("", text).strip(" ,")


def time_of_day(text: str, grammar: _Grammar | None = None) -> tuple[int, int] | None:
    """(hour, minute) when ``text`` (already ``plain``) is a time of day, else None."""
    grammar = grammar or _grammar()
    rest, led = _strip(text, grammar.lead)
    if rest in grammar.times:
        return grammar.times[rest]
    rest, at = _strip(rest, grammar.at)
    if rest in grammar.times:
        return grammar.times[rest]
    clock = _CLOCK.match(rest)
    if clock is None:
        return None
    mark = (clock.group("mark") or "").replace(".", "").replace(" ", "")
    if not (led or at or clock.group("minute") or mark):
        return None  # a bare number answers a question
    return _hour(int(clock.group("hour")), int(clock.group("minute") or 0), mark)


def _hour(hour: int, minute: int, mark: str) -> tuple[int, int] | None:
    if hour > 23 or minute > 59:
        return None
    if mark in ("am", "delamanana"):
        return (0 if hour == 12 else hour, minute) if hour <= 12 else None
    if mark in ("pm", "delatarde", "delanoche"):
        return (hour if hour >= 12 else hour + 12, minute) if hour <= 12 else None
    return (hour + 12 if hour in AFTERNOON_HOURS else hour, minute)


def _strip(text: str, prefixes: tuple[str, ...]) -> tuple[str, bool]:
    for prefix in prefixes:
        if text.startswith(prefix + " "):
            return text[len(prefix) + 1 :].strip(), True
    return text, False


def _less(message: str, text: str, grammar: _Grammar) -> CheckinRequest | None:
    if not grammar.about_texts.search(text) or classify(message).intent != "text_less":
        return None  # the cheap test first: most messages never reach the classifier
    return CheckinRequest("weekly" if grammar.weekly.search(text) else "less")


def _any(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(patterns) + r")(?![a-z0-9])")


def _longest_first(phrases: list[str]) -> tuple[str, ...]:
    return tuple(sorted((plain(p) for p in phrases), key=len, reverse=True))


@cache
def _grammar() -> _Grammar:
    raw: dict[str, Any] = tomllib.loads(
        files("careline_conversation.domain").joinpath(*DATA_FILE).read_text(encoding="utf-8")
    )
    keywords: dict[str, Change] = {}
    for change, phrases in raw["keywords"].items():
        keywords.update({plain(p): change for p in phrases})
    times = {plain(p): (int(at[:2]), int(at[3:])) for at, phrases in raw["times"].items() for p in phrases}
    return _Grammar(
        keywords=keywords,
        times=times,
        lead=_longest_first(raw["time_prefixes"]["lead"]),
        at=_longest_first(raw["time_prefixes"]["at"]),
        about_texts=_any(raw["less"]["about_texts"]),
        weekly=_any(raw["less"]["weekly"]),
    )
