"""Tolerant reading of a 1-5 answer typed into a phone.

Caregivers answer the way people text: "3", "3!", "I'd say 4", "4/5", "four", "sometimes",
"most of the time", "skip". The parser accepts those and refuses to guess: two different
numbers, a number off the scale ("10", "0") or a number buried in a sentence ("my mom had 2
falls") give ``None``, and the session asks again. Rules, in order:

1. "skip", "pass" or "next" (with only polite filler around it) means skip the item.
2. Every scale term in the text is found: digits, number words, frequency words. They must
   all agree on one value from 1 to 5.
3. The value is taken when every other word is filler ("I'd say", "probably", "today") or
   when the text starts with it: a digit ("4 - rough night") or a frequency word followed by
   a break ("Often. He wakes up at night").

Spanish reads the same way ("a veces", "casi siempre", "diría que 4", "cuatro", "saltar"),
with or without accents: the text is compared without them, so "mas o menos" is "más o menos".
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from careline_profile.domain.instruments import SCALE_MAX, SCALE_MIN


class Skip(Enum):
    """The caregiver chose not to answer this item."""

    SKIP = "skip"


SKIP = Skip.SKIP

SKIP_WORDS = frozenset({"skip", "pass", "next", "saltar", "salta", "saltala", "paso", "siguiente", "omitir"})
_SKIP_FILLER = frozenset(
    {"i'll", "ill", "i", "will", "please", "pls", "plz", "this", "that", "one", "it", "question",
     "for", "now", "thanks", "thank", "you", "ok", "okay", "let's", "lets", "just", "can", "we",
     "por", "favor", "esta", "esa", "pregunta", "gracias", "mejor", "la", "me", "lo", "yo", "quiero", "vale"}
)  # fmt: skip

# Words that may surround an answer without changing it.
_FILLER = frozenset(
    {"i", "i'd", "id", "i'm", "im", "ive", "i've", "say", "would", "maybe", "probably", "prob", "about",
     "around", "like", "it's", "its", "it", "a", "an", "the", "is", "was", "be", "been", "honestly",
     "hmm", "hm", "um", "umm", "uh", "ok", "okay", "well", "yeah", "yes", "yep", "guess", "think", "rate",
     "that", "so", "today", "tonight", "right", "now", "this", "week", "pretty", "much", "really", "very",
     "quite", "fairly", "just", "my", "answer", "go", "with", "put", "me", "down", "for", "as", "number",
     "i'll", "ill", "feel", "felt", "lately", "definitely", "def", "oh", "ugh", "lol", "haha", "thanks",
     "thank", "you", "hi", "hey", "solid", "probs", "honest", "to", "at", "least",
     # Spanish, compared without accents
     "yo", "diria", "digo", "creo", "que", "pues", "bueno", "si", "hoy", "esta", "semana", "un", "una",
     "el", "la", "es", "como", "tal", "vez", "quizas", "quiza", "probablemente", "gracias", "vale", "dale",
     "eh", "mmm", "mm", "ay", "uf", "pondria", "le", "doy", "mi", "respuesta", "numero", "de", "verdad",
     "honestamente", "sinceramente", "ahora", "hola", "ultimamente", "diariamente", "estos", "dias"}
)  # fmt: skip

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "cero": 0, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
}  # fmt: skip

# Frequency phrases on the 1 (never) .. 5 (always) scale; the longest match wins.
_FREQUENCY = {
    "never": 1, "not at all": 1, "none of the time": 1, "not ever": 1, "not once": 1,
    "rarely": 2, "seldom": 2, "hardly ever": 2, "hardly": 2, "barely": 2, "almost never": 2,
    "a little": 2, "a bit": 2, "not much": 2, "not often": 2, "not very often": 2, "not really": 2,
    "sometimes": 3, "occasionally": 3, "now and then": 3, "at times": 3, "somewhat": 3,
    "kind of": 3, "kinda": 3, "sort of": 3, "half the time": 3, "some of the time": 3, "some days": 3,
    "often": 4, "usually": 4, "frequently": 4, "mostly": 4, "most of the time": 4, "a lot": 4,
    "lots": 4, "a lot of the time": 4, "most days": 4, "most times": 4, "almost always": 4,
    "nearly always": 4,
    "always": 5, "all the time": 5, "all of the time": 5, "constantly": 5, "nonstop": 5, "non stop": 5,
    "every day": 5, "every single day": 5, "all day every day": 5, "24/7": 5,
    # Spanish, without accents ("jamás" is read as "jamas")
    "nunca": 1, "jamas": 1, "para nada": 1, "en ningun momento": 1,
    "casi nunca": 2, "rara vez": 2, "raramente": 2, "pocas veces": 2, "un poco": 2, "muy poco": 2,
    "poco": 2,
    "a veces": 3, "algunas veces": 3, "de vez en cuando": 3, "ocasionalmente": 3, "mas o menos": 3,
    "regular": 3, "algunos dias": 3,
    "a menudo": 4, "seguido": 4, "frecuentemente": 4, "con frecuencia": 4, "casi siempre": 4,
    "muchas veces": 4, "bastante": 4, "la mayoria del tiempo": 4, "la mayor parte del tiempo": 4,
    "mucho": 4, "casi todos los dias": 4,
    "siempre": 5, "todo el tiempo": 5, "todos los dias": 5, "constantemente": 5, "todo el dia": 5,
}  # fmt: skip
_PHRASES = {tuple(phrase.split()): value for phrase, value in _FREQUENCY.items()}
_LONGEST_PHRASE = max(len(words) for words in _PHRASES)

_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "`": "'", "\u00b4": "'"})
_OUT_OF_FIVE = re.compile(r"\b(\d+|[a-z]+)\s*(?:/|out of|outta|of|de)\s*(?:5|five|cinco)\b")
_TOKEN = re.compile(r"24/7|\d+|[a-z]+(?:'[a-z]+)?")
_BREAK = re.compile(r"\s*(?:[.,;:!?)\-]|$)")


def parse_answer(text: str) -> int | Skip | None:
    """The 1-5 value ``text`` gives, ``SKIP`` for a skip, or ``None`` when it is not clear."""
    normal = _OUT_OF_FIVE.sub(r"\1", _without_accents(text.translate(_APOSTROPHES).lower()))
    matches = list(_TOKEN.finditer(normal))
    words = [match.group() for match in matches]
    if not words:
        return None
    if _is_skip(words):
        return SKIP
    terms = _scale_terms(words)
    values = {value for _, _, value in terms}
    if len(values) != 1:
        return None
    (value,) = values
    if not SCALE_MIN <= value <= SCALE_MAX:
        return None
    covered = {index for start, end, _ in terms for index in range(start, end)}
    if all(index in covered or word in _FILLER for index, word in enumerate(words)):
        return value
    if _leads(normal, matches, terms):
        return value
    return None


def _without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _is_skip(words: list[str]) -> bool:
    return any(word in SKIP_WORDS for word in words) and all(
        word in SKIP_WORDS or word in _SKIP_FILLER for word in words
    )


def _scale_terms(words: list[str]) -> list[tuple[int, int, int]]:
    """(start, end, value) for every number and frequency phrase, scanning longest match first."""
    terms: list[tuple[int, int, int]] = []
    index = 0
    while index < len(words):
        match = _term_at(words, index)
        if match is None:
            index += 1
            continue
        length, value = match
        terms.append((index, index + length, value))
        index += length
    return terms


def _term_at(words: list[str], index: int) -> tuple[int, int] | None:
    for length in range(min(_LONGEST_PHRASE, len(words) - index), 0, -1):
        value = _PHRASES.get(tuple(words[index : index + length]))
        if value is not None:
            return length, value
    word = words[index]
    if word.isdigit():
        return 1, int(word)
    if word in _NUMBER_WORDS:
        return 1, _NUMBER_WORDS[word]
    return None


def _leads(normal: str, matches: list[re.Match[str]], terms: list[tuple[int, int, int]]) -> bool:
    """True when the text opens with its answer: a digit, or a frequency phrase then a break."""
    start, end, _ = terms[0]
    if start != 0:
        return False
    first = matches[0].group()
    if first.isdigit():
        return True
    if first in _NUMBER_WORDS:  # "one of those days" is not an answer
        return False
    return _BREAK.match(normal, matches[end - 1].end()) is not None
