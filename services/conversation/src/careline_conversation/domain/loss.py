"""Whether a caregiver is telling the line that the person they cared for has died.

After such a message caregiving check-ins stop (profile records it, the journey enters
bereavement) and the reply offers grief support. A wrong "yes" would stop check-ins and offer
condolences about someone alive, so detection is conservative (the rules and their reasons are
at the top of ``data/loss.toml``): a death in the past tense ("passed away", "died",
"falleció", "murió"), of someone a caregiver cares for ("my husband", "mom", "she", "mi mamá"),
not hypothetical, feared or dreamt ("what if she died", "casi se murió"), not someone else's
("her mom died") and not long ago ("died 5 years ago", "hace dos años"). "I feel like I'm
dying" and "she's dying" are not deaths. The crisis detector runs before this, always.

Pure: ``reports_loss`` and ``reply`` read only the packaged data.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from careline_conversation.domain.language import Language
from careline_conversation.safety import normalise
from careline_conversation.safety.sizing import segments

DATA_FILE = ("data", "loss.toml")
WORDS_BEFORE = 4
"""How many words before a match may turn it into a hypothetical or someone else's loss."""
WORDS_AFTER = 5
MAX_SEGMENTS = 3

# A literal word in a pattern, not an escape such as \w or \d: squeezed as the text is.
_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]+")


@dataclass(frozen=True)
class _Rules:
    patterns: tuple[re.Pattern[str], ...]
    before: re.Pattern[str]
    after: re.Pattern[str]


def reports_loss(message: str) -> bool:
    """True when the message says, as a fact, that the person they cared for has died."""
    readings = {"en": normalise.english(message), "es": normalise.spanish(message)}
    return any(_says_it(readings[lang], _rules(lang)) for lang in ("en", "es"))


def reply(language: Language, first_name: str | None = None) -> str:
    """Sorry, the check-ins stop (and how to keep them), and grief support, in ``language``;
    with the caregiver's name when it still fits three segments."""
    text = str(_data()["reply"][language])
    named = text.format(name=f", {first_name}") if first_name else None
    return named if named and segments(named) <= MAX_SEGMENTS else text.format(name="")


def _says_it(text: str, rules: _Rules) -> bool:
    for pattern in rules.patterns:
        for match in pattern.finditer(text):
            before = " ".join(text[: match.start()].split()[-WORDS_BEFORE:])
            after = " ".join(text[match.end() :].split()[:WORDS_AFTER])
            if not rules.before.search(before) and not rules.after.search(after):
                return True
    return False


def _squeezed(source: str) -> str:
    return _PATTERN_WORD.sub(lambda m: normalise.squeeze(m.group()), source)


def _words(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(_squeezed(p) for p in patterns) + r")(?![a-z0-9])")


@cache
def _data() -> dict[str, Any]:
    text = files("careline_conversation.domain").joinpath(*DATA_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def _rules(language: Language) -> _Rules:
    raw = _data()[language]
    filled = [p.replace("{who}", raw["who"]).replace("{day}", raw.get("day", "")) for p in raw["patterns"]]
    patterns = tuple(_words([p]) for p in filled)
    return _Rules(patterns, _words(raw["before"]), _words(raw["after"]))
