"""What a caregiver's words say about them: first name, relationship, condition, ZIP.

Two readings, both pure. ``parse`` reads a message as the answer to one question, and is
lenient where an answer is expected ("maria", "mi mamá", "dementia", "94110"). ``volunteered``
reads any message for facts stated outright, and is strict, because nobody asked: "my name is",
"me llamo", "I'm" + a capitalised word; "my husband", "cuido a mi mamá" (one person named,
or the one after a care verb); a condition from the known list; a ZIP whose 3-digit prefix is a
real one, with a cue ("in 60614", "zip", "código postal") or as a short message on its own.

Names are kept as written, accents and all ("María", "Zoë Núñez"); an all-lower-case or
all-upper-case name is capitalised word by word. A full name stays whole ("Maria Lopez", up to
three words): compound first names ("José Luis", "Mary Ann") look exactly like a first and a
last name, and what the caregiver wrote is what they chose to be called. The words these
readings know live in ``data/onboarding.toml`` (``[words]``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from careline_conversation.intents import classify
from careline_conversation.safety import normalise
from careline_platform.zip3 import lookup

Language = Literal["en", "es"]
DATA_FILE = ("data", "onboarding.toml")
MAX_NAME_WORDS = 3
MAX_NAME_CHARS = 40
MAX_CONDITION_WORDS = 4
MAX_CONDITION_CHARS = 40
MAX_ZIP_ANSWER_CHARS = 40
SHORT_MESSAGE_WORDS = 6

_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|['\u2019\-](?=[^\W\d_])){0,24}"
_NAME = re.compile(rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,{MAX_NAME_WORDS - 1}}}")
_GREETING = r"(?:(?:hi|hello|hey|hola|buenas|buenos d[ií]as)\b[\s,!.]*)?"
_ANSWER_INTRO = (
    r"(?:(?:i'?m|i\s+am|my\s+name\s+is|my\s+name'?s|name'?s|it'?s|call\s+me|this\s+is|soy|yo\s+soy|"
    r"me\s+llamo|mi\s+nombre\s+es|me\s+dicen)\s+)?"
)
_NAME_ANSWER = re.compile(rf"^{_GREETING}{_ANSWER_INTRO}(?P<name>{_NAME.pattern})[\s.!]*$", re.IGNORECASE)
_STATED_NAME = re.compile(
    rf"(?<![^\W\d_])(?:my\s+name\s+is|my\s+name'?s|me\s+llamo|mi\s+nombre\s+es|call\s+me)\s+(?P<name>{_NAME.pattern})",
    re.IGNORECASE,
)
# "I'm"/"soy" + a capitalised word (as written): "I'm Maria", not "I'm exhausted".
_INTRODUCED = re.compile(
    rf"(?<![^\W\d_])(?:i'?m|i\s+am|soy|yo\s+soy)\s+(?P<name>{_NAME.pattern})", re.IGNORECASE
)
_ZIP = re.compile(r"(?<![\d$])(\d{5})(?:-\d{4})?(?![\d,.]?\d)")
_ZIP_CUE = re.compile(
    r"\b(?:zip|zipcode|postal|in|near|around|live|living|area|codigo|cp|vivo|en|cerca|zona)\b\W*$"
)
_CARE_VERB = re.compile(
    r"\b(?:care (?:for|of)|caring for|look(?:ing)? after|take care of|taking care of|cuido a|cuidando a|"
    r"cuido de|cuidar a|cuida a|me encargo de)\s+"
    r"(?:(?:my|our|his|her|their|mi|mis|su|sus|nuestra|nuestro|a) )?"
)
_POSSESSIVE = re.compile(r"\b(?:my|our|mi|mis|nuestra|nuestro|nuestros)\s+$")
_QUESTION_WORDS = frozenset(
    {"what", "how", "who", "why", "when", "where", "can", "do", "is", "are", "que", "como"}
)


@dataclass(frozen=True)
class Condition:
    patterns: tuple[re.Pattern[str], ...]
    stored: dict[str, str]


@dataclass(frozen=True)
class Words:
    skip: frozenset[str]
    not_names: frozenset[str]
    relationships: tuple[tuple[str, str], ...]
    """(phrase, value), longest phrase first: "mother in law" before "mother"."""
    alone: dict[str, str]
    conditions: tuple[Condition, ...]


def _words(data: dict[str, Any]) -> Words:
    raw = data["words"]
    pairs = [(phrase, value) for value, phrases in raw["relationship"].items() for phrase in phrases]
    alone = {phrase: value for value, phrases in raw["relationship_alone"].items() for phrase in phrases}
    conditions = tuple(
        Condition(
            tuple(re.compile(rf"(?<![a-z0-9])(?:{p})(?![a-z0-9])") for p in entry["match"]),
            {"en": entry["en"], "es": entry["es"]},
        )
        for entry in raw["condition"]
    )
    return Words(
        frozenset(raw["skip"]),
        frozenset(raw["not_names"]),
        tuple(sorted(pairs, key=lambda pair: -len(pair[0]))),
        alone,
        conditions,
    )


@cache
def data() -> dict[str, Any]:
    """The packaged onboarding data (texts and words), parsed once per process."""
    text = files("careline_conversation.domain").joinpath(*DATA_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def words() -> Words:
    return _words(data())


def plain(text: str) -> str:
    """Lower case, accents dropped, punctuation to spaces: what word lists are matched against."""
    return " ".join(normalise.base(text).replace("'", " ' ").split()).replace(" ' ", "'")


def is_skip(text: str) -> bool:
    """Whether the whole message declines to answer ("skip", "no", "saltar", "prefiero no decir")."""
    return plain(text).strip(" .!") in words().skip


def looks_like_a_question(text: str) -> bool:
    first = plain(text).split(" ", 1)[0] if text.strip() else ""
    return "?" in text or "\u00bf" in text or (first in _QUESTION_WORDS and len(text.split()) > 2)


def _styled(name: str) -> str:
    """A name as written; all-lower or all-upper case gets a capital letter per word."""
    if name == name.lower() or name == name.upper():
        return " ".join(part[:1].upper() + part[1:].lower() for part in name.split())
    return " ".join(name.split())


def _name_words_ok(name: str) -> bool:
    return len(name) <= MAX_NAME_CHARS and not any(plain(w) in words().not_names for w in name.split())


def _leading_name(candidate: str, capitalised_only: bool) -> str | None:
    """The name at the start of ``candidate``, stopping at the first word that is not one."""
    kept: list[str] = []
    for word in candidate.split()[:MAX_NAME_WORDS]:
        if plain(word) in words().not_names or (capitalised_only and not word[:1].isupper()):
            break
        kept.append(word)
    name = " ".join(kept)
    return _styled(name) if kept and len(name) <= MAX_NAME_CHARS else None


def parse_name(text: str) -> str | None:
    """The first name in an answer to "what's your first name?" ("maria", "I'm María", "soy José Luis")."""
    match = _NAME_ANSWER.match(" ".join(text.strip().split()))
    if match is None or not _name_words_ok(match.group("name")):
        return None
    if classify(text).intent not in ("other", "greeting"):  # "thanks", "tired", "sleep"...
        return None
    return _styled(match.group("name"))


def stated_name(text: str) -> str | None:
    """A name stated outright in any message ("my name is Ana", "me llamo José Luis", "I'm Maria")."""
    flat = " ".join(text.split())
    stated = _STATED_NAME.search(flat)
    if stated is not None:
        return _leading_name(stated.group("name"), capitalised_only=False)
    introduced = _INTRODUCED.search(flat)
    if introduced is not None and introduced.group("name")[:1].isupper():
        return _leading_name(introduced.group("name"), capitalised_only=True)
    return None


def _mentions(text: str) -> list[tuple[int, str, str]]:
    """Every relationship phrase in ``text`` (already plain): (position, phrase, value)."""
    found: list[tuple[int, str, str]] = []
    taken: set[int] = set()
    for phrase, value in words().relationships:  # longest first, so "mother in law" wins
        for match in re.finditer(rf"(?<![a-z])(?:{re.escape(phrase)})(?![a-z])", text):
            span = set(range(match.start(), match.end()))
            if not span & taken:
                taken |= span
                found.append((match.start(), phrase, value))
    return sorted(found)


def _after_care_verb(text: str, mentions: list[tuple[int, str, str]]) -> str | None:
    for verb in _CARE_VERB.finditer(text):
        for position, _phrase, value in mentions:
            if position == verb.end():
                return value
    return None


def parse_relationship(text: str) -> str | None:
    """spouse, parent, child or other, from an answer ("my husband", "mi mamá", "my mother-in-law")."""
    flat = plain(text).strip(" .!")
    if flat in words().alone:
        return words().alone[flat]
    mentions = _mentions(flat)
    if not mentions:
        return None
    return _after_care_verb(flat, mentions) or mentions[0][2]


def stated_relationship(text: str) -> str | None:
    """Who they care for, stated outright: after a care verb, or the one person a "my" names."""
    flat = plain(text)
    mentions = _mentions(flat)
    cared_for = _after_care_verb(flat, mentions)
    if cared_for is not None:
        return cared_for
    owned = {value for position, _p, value in mentions if _POSSESSIVE.search(flat[:position])}
    return owned.pop() if len(owned) == 1 else None


def known_conditions(text: str, language: Language) -> list[str]:
    """The known conditions ``text`` names, in the order it names them, as stored in ``language``."""
    flat = plain(text)
    hits: list[tuple[int, str]] = []
    for condition in words().conditions:
        positions = [m.start() for p in condition.patterns for m in [p.search(flat)] if m is not None]
        if positions:
            hits.append((min(positions), condition.stored[language]))
    return [stored for _position, stored in sorted(hits)]


def parse_condition(text: str, language: Language = "en") -> str | None:
    """The care recipient's main condition from an answer: the known ones named ("Alzheimer's",
    "demencia"), else the answer as written when it is short and reads like a condition."""
    named = known_conditions(text, language)
    if named:
        return (" and " if language == "en" else " y ").join(named[:2])
    written = " ".join(text.strip().strip(".!").split())
    if (
        not written
        or len(written) > MAX_CONDITION_CHARS
        or len(written.split()) > MAX_CONDITION_WORDS
        or not any(ch.isalpha() for ch in written)
        or looks_like_a_question(text)
        or any(plain(w) in words().not_names for w in written.split())
        or classify(text).intent not in ("other", "new_diagnosis")
    ):
        return None
    return written


def parse_zip(text: str) -> str | None:
    """A ZIP code from an answer ("94110", "my zip is 02139-1234")."""
    cleaned = " ".join(text.strip().split())
    found = _ZIP.search(cleaned)
    return found.group(1) if found and len(cleaned) <= MAX_ZIP_ANSWER_CHARS else None


def stated_zip(text: str) -> str | None:
    """A real ZIP in any message, after a cue ("I'm in 60614") or in a short message of its own."""
    short = len(text.split()) <= SHORT_MESSAGE_WORDS
    for found in _ZIP.finditer(text):
        if lookup(found.group(1)) is None:
            continue
        if short or _ZIP_CUE.search(plain(text[: found.start()])):
            return found.group(1)
    return None


def parse(field: str, text: str, language: Language = "en") -> str | None:
    """The value of ``text`` read as the answer to ``field``'s question, or None when it is not one."""
    if field == "first_name":
        return parse_name(text)
    if field == "relationship":
        return parse_relationship(text)
    if field == "condition":
        return parse_condition(text, language)
    if field == "zip":
        return parse_zip(text)
    raise ValueError(f"unknown onboarding field {field!r}")


def volunteered(text: str, language: Language = "en") -> dict[str, str]:
    """The facts ``text`` states outright, whatever was asked (field -> value)."""
    facts: dict[str, str] = {}
    name, relationship, zip_code = stated_name(text), stated_relationship(text), stated_zip(text)
    conditions = known_conditions(text, language)
    if name is not None:
        facts["first_name"] = name
    if relationship is not None:
        facts["relationship"] = relationship
    if conditions:
        facts["condition"] = conditions[0]
    if zip_code is not None:
        facts["zip"] = zip_code
    return facts
