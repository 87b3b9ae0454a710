"""Read obvious facts about the person cared for from a caregiver's message: pure and small.

"She has dementia", "he lives with us", "what helped was the adult day program", "mi mamá
tiene alzhéimer", "lo más difícil son las noches": the statements in ``data/extract.toml``,
English and Spanish, matched sentence by sentence. Conservative on purpose: a question is
never read as a statement, a statement must name its subject and a stating verb, and every
value passes ``facts.validate`` (no numbers, no links) before it is kept. What it misses, the
OpenAI agent's ``remember`` tool may store; a wrong memory is worse than a missing one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from careline_conversation.memory.facts import validate

EXTRACT_FILE = ("data", "extract.toml")
MAX_WORDS = 12
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]*")


@dataclass(frozen=True)
class Statement:
    field: str
    language: str
    pattern: re.Pattern[str]
    store: str | None
    """A fixed value to store (a living situation), or None: the match says the value."""
    conditions: tuple[tuple[re.Pattern[str], str], ...] = ()
    """For a condition statement: each condition's words and its name in this language."""


@dataclass(frozen=True)
class Extractor:
    statements: tuple[Statement, ...]
    cuts: tuple[str, ...]
    empty: frozenset[str]


def parse(data: dict[str, Any]) -> Extractor:
    """The extractor described by the parsed TOML (a KeyError or re.error names what is wrong)."""
    conditions = data["condition"]
    alternation = "|".join(w for c in conditions for w in c["words"])
    statements = []
    for raw in data["statement"]:
        language = str(raw["language"])
        text = raw["pattern"].replace("{who}", data["who"][language])
        text = text.replace("{condition}", f"(?P<condition>{alternation})")
        names: tuple[tuple[re.Pattern[str], str], ...] = ()
        if "(?P<condition>" in text:
            names = tuple(
                (re.compile("(?:" + "|".join(c["words"]) + r")\Z", re.IGNORECASE), str(c[language]))
                for c in conditions
            )
        statements.append(
            Statement(str(raw["field"]), language, re.compile(text, re.IGNORECASE), raw.get("store"), names)
        )
    return Extractor(
        tuple(statements),
        tuple(data["cut"]["words"]),
        frozenset(v.casefold() for v in data["empty"]["values"]),
    )


@cache
def extractor() -> Extractor:
    text = files("careline_conversation.memory").joinpath(*EXTRACT_FILE).read_text(encoding="utf-8")
    return parse(tomllib.loads(text))


def extract(message: str, rules: Extractor | None = None) -> tuple[tuple[str, str], ...]:
    """The (field, value) pairs ``message`` states plainly, in the order said; each field once
    (the last statement of a field wins, as a later sentence corrects an earlier one)."""
    rules = rules or extractor()
    found: dict[str, str] = {}
    for sentence in _SENTENCE.findall(" ".join(message.split())):
        if sentence.rstrip().endswith("?"):
            continue  # "does she have dementia?" states nothing
        for statement in rules.statements:
            match = statement.pattern.search(sentence)
            value = _value(statement, match, rules) if match else None
            if value is not None:
                found.pop(statement.field, None)
                found[statement.field] = value
    return tuple(found.items())


def _value(statement: Statement, match: re.Match[str], rules: Extractor) -> str | None:
    if statement.store is not None:
        return statement.store
    if statement.conditions:
        said = match.group("condition")
        return next((name for words, name in statement.conditions if words.match(said)), None)
    value = match.group("value").strip()
    lowered = f" {value.lower()} "
    for cut in rules.cuts:
        at = lowered.find(cut)
        if at >= 0:
            value = value[: max(at - 1, 0)]
            lowered = f" {value.lower()} "
    value = " ".join(value.split()[:MAX_WORDS]).strip(" ,")
    if value.casefold() in rules.empty:
        return None
    if statement.field == "recipient_name" and not value[:1].isupper():
        return None  # "her name is not important": a name is written with a capital
    return validate(statement.field, value)
