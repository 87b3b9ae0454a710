"""Crisis detection: does a caregiver's message signal danger, of which kind, and how surely?

It runs on every inbound message, before anything else, so it is plain regular expressions,
compiled at import from the pattern files in ``safety/data`` (one per language, each written in
that language, not translated), over the text as ``safety.normalise`` leaves it: disguises
removed (invisible characters, look-alike letters, leetspeak, stretched letters), contractions
and shorthand spelled out.

``detect`` answers with a category (the six of ``careline_contracts.jobs.CrisisCategory``), a
tier and the language of the pattern that matched (the reply's language; no language detector
is involved):

- **explicit**: a plan, a means, intent, self-harm, an emergency happening now. A means of
  suicide (a medicine or a dose, a poison, a weapon, the pill emoji) counts only in company:
  with distress (a crying face, "I can't do this"), intent ("take them all") or an indirect
  signal in the same message, it is explicit.
- **indirect**: hopelessness, being a burden, "can't go on", goodbyes, giving things away,
  researching means. The line asks a direct, caring question instead of assuming.

Recall comes first: a false alarm costs a kind text with the 988 number, a miss can cost a
life. Look-alikes (idioms such as "this is killing me", "I could kill for a nap", a fall "last
month", a question about a safe dose) are excused only where the idiom's own span covers the
matched phrase, never for the whole message: "this paperwork is killing me and I want to die"
still matches. Whose life is at risk is read from the words: the subject nearest the phrase in
English ("I want to die" / "my husband says he wants to end it"; words reported from someone
else are theirs: "dad says 'i want to die'"), the verb's person in Spanish ("quiero morirme" /
"se quiere morir").

``detect`` returns fixed labels of what matched, never message text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from careline_contracts.jobs import CRISIS_CATEGORIES, CrisisTier, Language
from careline_conversation.safety import normalise

Tier = CrisisTier


@dataclass(frozen=True)
class CrisisMatch:
    category: str  # one of careline_contracts.jobs.CRISIS_CATEGORIES
    tier: Tier
    language: Language
    pattern: str  # a fixed label such as "want to die"; never the caregiver's words


Kind = Literal["crisis", "means", "distress", "intent", "idiom"]
_RESOLVED = {"suicide", "abuse"}  # categories decided by who the words are about
_HELPERS = {"means", "distress", "intent", "idiom"}


@dataclass(frozen=True)
class _Pattern:
    category: str
    tier: str
    label: str
    regex: re.Pattern[str]


_PATTERN_WORD = re.compile(r"(?<!\\)[a-z]+")
_LEADING_BOUNDARY = re.compile(r"(?:^|(?<=\|))\\b")
_MACRO = re.compile(r"<([A-Z_]+)>")


def _entries(text: str) -> list[tuple[str, str]]:
    """(head, regex) for each unindented head line and the indented regex lines under it.

    Continuation lines are joined with one space, as the words they continue, except where the
    break falls at an alternative ("|" ends one line or starts the next) or just inside a group.
    """
    entries: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(" "):
            head, regex = entries[-1]
            part = line.strip()
            glue = "" if not regex or part.startswith("|") or regex.endswith(("|", "(", ":")) else " "
            entries[-1] = (head, regex + glue + part)
        else:
            entries.append((line.strip(), ""))
    return entries


def _expand(source: str, macros: dict[str, str]) -> str:
    for _ in range(5):  # macros may use macros
        expanded = _MACRO.sub(lambda m: macros[m.group(1)], source)
        if expanded == source:
            return expanded
        source = expanded
    raise ValueError(f"macros nest too deep in {source[:60]!r}")


def _compile(source: str, macros: dict[str, str]) -> re.Pattern[str]:
    """Expand macros, squeeze literal words, and turn each leading ``\\b`` into a space.

    ``detect`` pads the text with spaces, so a leading space is a word boundary, and a pattern
    that starts with a literal lets ``re`` skip ahead instead of trying every position.
    """
    source = _LEADING_BOUNDARY.sub(" ", _expand(source, macros))
    return re.compile(_PATTERN_WORD.sub(lambda m: normalise.squeeze(m.group()), source))


def load_patterns(text: str) -> tuple[_Pattern, ...]:
    """Parse one language's pattern file (see ``safety/data/crisis_en.txt`` for the layout)."""
    macros: dict[str, str] = {}
    patterns: list[_Pattern] = []
    for head, regex in _entries(text):
        if head.startswith("@"):
            macros[head[1:]] = regex
            continue
        category, tier, label = (part.strip() for part in head.split("|"))
        known = set(CRISIS_CATEGORIES) | _RESOLVED | _HELPERS
        if category not in known:
            raise ValueError(f"unknown category {category!r} in pattern {label!r}")
        if category not in _HELPERS and tier not in ("explicit", "indirect"):
            raise ValueError(f"pattern {label!r} needs a tier, not {tier!r}")
        patterns.append(_Pattern(category, tier, label, _compile(regex, macros)))
    return tuple(patterns)


def _read(name: str) -> str:
    return files("careline_conversation.safety").joinpath(f"data/{name}").read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Language:
    code: Language
    finish: Callable[[str], str]  # the language's steps after normalise.base
    crisis: tuple[_Pattern, ...]
    means: tuple[_Pattern, ...]
    company: tuple[_Pattern, ...]  # distress and intent
    idioms: tuple[_Pattern, ...]


def _language(code: Language, text: str) -> _Language:
    patterns = load_patterns(text)
    return _Language(
        code,
        normalise.english_from_base if code == "en" else normalise.spanish_from_base,
        tuple(p for p in patterns if p.category not in _HELPERS),
        tuple(p for p in patterns if p.category == "means"),
        tuple(p for p in patterns if p.category in ("distress", "intent")),
        tuple(p for p in patterns if p.category == "idiom"),
    )


LANGUAGES = (_language("en", _read("crisis_en.txt")), _language("es", _read("crisis_es.txt")))
LABELS = frozenset(p.label for lang in LANGUAGES for p in lang.crisis) | {"means with distress"}


# --- whose life: the subject nearest the phrase (English) -----------------------------------

_SELF_WORDS = frozenset({"i", "me", "my", "myself", "mine"})
_OTHER_WORDS = frozenset(
    normalise.squeeze(w)
    for w in [
        "he",
        "she",
        "they",
        "him",
        "her",
        "them",
        "his",
        "himself",
        "herself",
        "themselves",
        "themself",
        "mom",
        "mother",
        "dad",
        "father",
        "husband",
        "wife",
        "son",
        "daughter",
        "brother",
        "sister",
        "grandma",
        "grandmother",
        "grandpa",
        "grandfather",
        "partner",
        "patient",
        "spouse",
        "teen",
        "teenager",
        "uncle",
        "aunt",
        "mil",
        "fil",
        "sil",
        "boyfriend",
        "girlfriend",
        "kid",
        "child",
        "grandson",
        "granddaughter",
        "grandkid",
        "grandkids",
        "nephew",
        "niece",
        "cousin",
        "neighbor",
        "roommate",
        "fiance",
        "stepdad",
        "stepmom",
        "stepson",
        "stepdaughter",
    ]
)
# Reported speech: in "dad says 'i want to die'" or "my husband said im done being a burden" the
# "i" is the speaker's, someone else's.
_SPEECH_WORDS = frozenset(
    map(
        normalise.squeeze,
        [
            "says",
            "said",
            "saying",
            "say",
            "tells",
            "told",
            "telling",
            "asks",
            "asked",
            "asking",
            "texted",
            "texts",
            "texting",
            "wrote",
            "writes",
            "whispered",
            "whispers",
            "screams",
            "screamed",
            "yells",
            "yelled",
            "cries",
            "cried",
            "begged",
            "begs",
            "begging",
        ],
    )
)
_RECIPIENT_WORDS = frozenset(
    normalise.squeeze(w)
    for w in [
        "mom",
        "mother",
        "dad",
        "father",
        "her",
        "him",
        "grandma",
        "grandpa",
        "grandmother",
        "grandfather",
        "patient",
        "resident",
        "aide",
        "aides",
        "staff",
        "facility",
        "nursing",
        "home",
        "elder",
        "elderly",
        "parents",
        "parent",
    ]
)


def _is_other(word: str) -> bool:
    """A word naming someone else: "dad", "she", or an age such as "15yo"."""
    return word in _OTHER_WORDS or (word.endswith("yo") and word[:-2].isdigit())


def _reported_by_other(words_before: list[str]) -> bool:
    """True when someone else's speech word leads up to the phrase ("dad says ...", "she told me ...")."""
    for index in range(len(words_before) - 1, -1, -1):
        word = words_before[index]
        if word == "i":
            return False
        if word in _SPEECH_WORDS:
            for speaker in reversed(words_before[max(0, index - 3) : index]):
                if speaker in _SELF_WORDS:
                    return False
                if _is_other(speaker):
                    return True
            return False
    return False


def _subject_is_other(text: str, start: int, end: int) -> bool:
    """True when the words of ``text[start:end]`` (or the nearest subject before them) are someone else's.

    Words reported from someone else are theirs: "my husband said im a burden" is about him.
    """
    before = text[:start].split()
    if _reported_by_other(before[-10:]):
        return True
    before = before[-8:]
    words = text[start:end].split()
    if any(word in _SELF_WORDS for word in words):  # "they'd be fine without me" is about me
        return False
    if any(_is_other(word) for word in words):
        return True
    for word in reversed(before):
        if word in _SELF_WORDS:
            return False
        if _is_other(word):
            return True
    return False


_POSSESSIVES = frozenset({"my", "her", "his", "their"})


def _owner_is_other(text: str, start: int) -> bool:
    """For a means word: the nearest subject before it, skipping possessives ("her pills" is mine to take)."""
    before = text[:start].split()
    if _reported_by_other(before[-10:]):
        return True
    for word in reversed(before[-12:]):
        if word in _POSSESSIVES:
            continue
        if word in _SELF_WORDS:
            return False
        if _is_other(word):
            return True
    return False


def _abuse_target(text: str, start: int, end: int) -> str:
    window = text[:start].split()[-6:] + text[start:end].split() + text[end:].split()[:6]
    if "me" in window or "i" in text[start:end].split():
        return "abuse_of_caregiver"
    if any(word in _RECIPIENT_WORDS for word in window):
        return "abuse_of_recipient"
    return "abuse_of_caregiver"


# Spanish reported speech: "mi esposa dice que no hay salida" is the wife's despair, not the texter's.
_ES_REPORTED = re.compile(
    r"\b(?:dice|dijo|decia|anda diciendo|sigue diciendo|repite|me dijo|me dice|me escribio|me escribe|grita"
    r"|cuenta|comenta|asegura)(?: que)?(?: \w+){0,3} ?$"
)


def _category(pattern: _Pattern, text: str, start: int, end: int) -> str:
    if pattern.category == "suicide_self" and _ES_REPORTED.search(text[max(0, start - 50) : start]):
        return "suicide_other"
    if pattern.category == "suicide":
        return "suicide_other" if _subject_is_other(text, start, end) else "suicide_self"
    if pattern.category == "abuse":
        return _abuse_target(text, start, end)
    return pattern.category


# --- matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    pattern: _Pattern
    start: int
    end: int
    category: str


def _excused(pattern: _Pattern, match: re.Match[str], idioms: list[tuple[int, int]]) -> bool:
    start, end = match.span("core") if "core" in pattern.regex.groupindex else match.span()
    if start < 0:  # the alternative that matched has no core: all of it must be covered
        start, end = match.span()
    return any(i_start <= start and end <= i_end for i_start, i_end in idioms)


class _Idioms:
    """The idiom spans of one text, found the first time a match needs them (most messages never do)."""

    def __init__(self, language: _Language, text: str) -> None:
        self._language, self._text = language, text
        self._spans: list[tuple[int, int]] | None = None

    @property
    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            idioms = self._language.idioms
            self._spans = [m.span() for idiom in idioms for m in idiom.regex.finditer(self._text)]
        return self._spans


def _hits(patterns: tuple[_Pattern, ...], text: str, idioms: _Idioms) -> list[_Hit]:
    found: list[_Hit] = []
    for pattern in patterns:
        for match in pattern.regex.finditer(text):
            if not _excused(pattern, match, idioms.spans):
                start, end = match.span()
                found.append(_Hit(pattern, start, end, _category(pattern, text, start, end)))
                break
    return found


@dataclass(frozen=True)
class _Reading:
    language: _Language
    text: str
    crisis: list[_Hit]
    means: list[_Hit]
    company: list[_Hit]


def _read_as(language: _Language, cleaned: str) -> _Reading:
    """``cleaned`` is ``normalise.base`` of the message, shared by every language's reading."""
    text = f" {language.finish(cleaned)} "
    idioms = _Idioms(language, text)
    return _Reading(
        language,
        text,
        _hits(language.crisis, text, idioms),
        _hits(language.means, text, idioms),
        _hits(language.company, text, idioms),
    )


def _means_in_company(reading: _Reading) -> CrisisMatch | None:
    """A means word with distress, intent or an indirect signal beside it (outside its span)."""
    for means in reading.means:
        others = [*reading.company, *(h for h in reading.crisis if h.pattern.tier == "indirect")]
        company = [h for h in others if not (h.start <= means.start and means.end <= h.end)]
        if company:
            if reading.language.code == "en":
                other = _owner_is_other(reading.text, means.start)
            else:  # Spanish says whose words they are in the verb: the company's category tells
                other = any(h.category == "suicide_other" for h in company)
            category = "suicide_other" if other else "suicide_self"
            return CrisisMatch(category, "explicit", reading.language.code, "means with distress")
    return None


def detect(message: str) -> CrisisMatch | None:
    """The strongest crisis signal in ``message`` that no idiom explains away, or None."""
    cleaned = normalise.base(message)
    readings = [_read_as(language, cleaned) for language in LANGUAGES]
    # the language that says more is the one the caregiver writes in (a tie goes to English)
    readings.sort(key=lambda r: -len(r.crisis))
    for reading in readings:
        for hit in reading.crisis:
            if hit.pattern.tier == "explicit":
                return CrisisMatch(hit.category, "explicit", reading.language.code, hit.pattern.label)
    for reading in readings:
        combined = _means_in_company(reading)
        if combined is not None:
            return combined
    for reading in readings:
        for hit in reading.crisis:
            return CrisisMatch(hit.category, "indirect", reading.language.code, hit.pattern.label)
    return None
