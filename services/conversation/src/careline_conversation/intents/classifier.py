"""Which intent a caregiver's text carries: the patterns in ``data/intents.toml``, scored.

Used by the rules agent after crisis detection has passed the message by: it picks the tips a
reply draws on, so a question about respite gets respite, not a generic line. Pure and cheap
(a few dozen regular expressions per message); the phrasings are data, this module only reads
them. How a text is read and scored is described at the top of the data file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from careline_conversation.safety import normalise

Language = Literal["en", "es"]
OTHER = "other"
STRONG = 3
INTENTS_FILE = ("data", "intents.toml")

# A literal word in a pattern, not an escape such as \w or \d: squeezed as the text is.
_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]+")


@dataclass(frozen=True)
class Intent:
    id: str
    distress: bool
    patterns: dict[str, tuple[tuple[re.Pattern[str], int], ...]]
    """Per language, each compiled pattern with its weight."""


@dataclass(frozen=True)
class Classification:
    intent: str
    score: int
    language: Language | None
    """The language whose patterns matched best; None when nothing matched."""
    distress: bool = False
    """The message says someone is hurting (any distress intent matched, winner or not)."""


@dataclass(frozen=True)
class Intents:
    intents: tuple[Intent, ...]
    emoji: dict[str, str]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.intents)

    def get(self, intent_id: str) -> Intent:
        for intent in self.intents:
            if intent.id == intent_id:
                return intent
        raise KeyError(intent_id)


def _compile(source: str) -> re.Pattern[str]:
    squeezed = _PATTERN_WORD.sub(lambda m: normalise.squeeze(m.group()), source)
    return re.compile(rf"(?<![a-z0-9])(?:{squeezed})(?![a-z0-9])")


def parse(data: dict[str, Any]) -> Intents:
    """The intents from the parsed TOML (a KeyError or re.error names what is malformed)."""
    intents = []
    for raw in data["intent"]:
        patterns: dict[str, tuple[tuple[re.Pattern[str], int], ...]] = {}
        for language in ("en", "es"):
            weighted = [(p, STRONG) for p in raw.get("strong", {}).get(language, [])]
            weighted += [(p, 1) for p in raw.get("patterns", {}).get(language, [])]
            patterns[language] = tuple((_compile(p), w) for p, w in weighted)
        intents.append(Intent(str(raw["id"]), bool(raw.get("distress", False)), patterns))
    ids = [i.id for i in intents]
    if len(set(ids)) != len(ids) or OTHER in ids:
        raise ValueError("intent ids must be unique and not 'other'")
    return Intents(tuple(intents), {str(k): str(v) for k, v in data.get("emoji", {}).items()})


@cache
def intents() -> Intents:
    """The packaged intents, parsed once per process."""
    text = files("careline_conversation.intents").joinpath(*INTENTS_FILE).read_text(encoding="utf-8")
    return parse(tomllib.loads(text))


def readings(text: str, emoji: dict[str, str]) -> dict[Language, str]:
    """The text each language's patterns read, padded with spaces."""
    for symbol, word in emoji.items():
        text = text.replace(symbol, f" {word} ")
    cleaned = normalise.base(text)
    return {
        "en": f" {normalise.english_from_base(cleaned)} ",
        "es": f" {normalise.spanish_from_base(cleaned)} ",
    }


def classify(text: str, table: Intents | None = None) -> Classification:
    """The intent of ``text``: the best-scoring one, ties to the first listed; else ``other``."""
    table = table or intents()
    read = readings(text, table.emoji)
    best: Classification | None = None
    distress = False
    for intent in table.intents:
        scores = {
            language: sum(w for pattern, w in intent.patterns[language] if pattern.search(read[language]))
            for language in read
        }
        language: Language = "es" if scores["es"] > scores["en"] else "en"
        score = scores[language]
        distress = distress or (intent.distress and score > 0)
        if score and (best is None or score > best.score):
            best = Classification(intent.id, score, language)
    if best is None:
        return Classification(OTHER, 0, None)
    return replace(best, distress=distress)
