"""Onboarding: first name, relationship, ZIP, one question at a time, each skippable.

Pure logic over a small state dict kept in ``conversation_state.onboarding``. An answer that
does not parse is asked once more with a hint; after the second miss the question is left
for later, so nobody is stuck in a form. The facts go to profile as events; conversation
only remembers how far the questions got.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FIELDS = ("first_name", "relationship", "zip")
MAX_TRIES = 2

QUESTIONS = {
    "first_name": "What's your first name? (Reply SKIP to skip.)",
    "relationship": "Who do you care for: a spouse or partner, a parent, a child, or someone else?",
    "zip": "What's your ZIP code? It helps me find support near you. (Reply SKIP to skip.)",
}
HINTS = {
    "first_name": "Just your first name is fine, like Maria. Or reply SKIP.",
    "relationship": "You can answer spouse, parent, child or other. Or reply SKIP.",
    "zip": "A ZIP code has 5 digits, like 94110. Or reply SKIP.",
}
DONE = "Thank you{name}. I'm here whenever you want to talk. How are you doing today?"

_RELATIONSHIPS = {
    "spouse": ("spouse", "husband", "wife", "partner", "boyfriend", "girlfriend", "fiance", "fiancee"),
    "parent": ("parent", "mom", "mother", "dad", "father", "mum", "stepmom", "stepdad", "in-law", "in law"),
    "child": ("child", "son", "daughter", "kid", "kids", "children", "stepson", "stepdaughter"),
    "other": (
        "other",
        "grandma",
        "grandpa",
        "grandmother",
        "grandfather",
        "sister",
        "brother",
        "aunt",
        "uncle",
        "friend",
        "neighbor",
        "neighbour",
        "cousin",
        "someone else",
    ),
}
_NAME = re.compile(
    r"^(?:(?:i'?m|i am|my name is|it'?s|call me|this is)\s+)?([a-z][a-z'\-]{0,29})[.!]?$", re.IGNORECASE
)
_ZIP = re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)")
_SKIP = frozenset({"skip", "pass", "no", "next", "later", "n/a", "na", "prefer not to say"})
_NOT_NAMES = frozenset({"hi", "hello", "hey", "yes", "ok", "okay", "thanks", "help", "stop", "start"})


@dataclass(frozen=True)
class Step:
    """What one answer did: the new state, a fact learned (field, value), and what to say next."""

    state: dict[str, Any]
    fact: tuple[str, str] | None
    reply: str


def start() -> dict[str, Any]:
    return {"field": FIELDS[0], "tries": 0}


def is_active(state: dict[str, Any] | None) -> bool:
    return state is not None and state.get("field") is not None


def parse(field: str, text: str) -> str | None:
    """The value of an answer, or None when it is not one."""
    cleaned = " ".join(text.strip().split())
    lowered = cleaned.lower().rstrip(".!")
    if field == "first_name":
        match = _NAME.match(cleaned)
        if match is None or match.group(1).lower() in _NOT_NAMES:
            return None
        return match.group(1)[:1].upper() + match.group(1)[1:]
    if field == "relationship":
        spaced = lowered.replace("-", " ")
        words = set(re.findall(r"[a-z]+", spaced))
        for value, synonyms in _RELATIONSHIPS.items():
            if any((s in words) if " " not in s else (s in spaced) for s in synonyms):
                return value
        return None
    if field == "zip":
        found = _ZIP.search(cleaned)
        return found.group(1) if found and len(cleaned) <= 40 else None
    raise ValueError(f"unknown onboarding field {field!r}")


def _next_field(field: str) -> str | None:
    index = FIELDS.index(field) + 1
    return FIELDS[index] if index < len(FIELDS) else None


def _move_on(field: str, facts_name: str | None) -> tuple[dict[str, Any], str]:
    following = _next_field(field)
    if following is None:
        return {"field": None, "tries": 0}, DONE.format(name=f", {facts_name}" if facts_name else "")
    return {"field": following, "tries": 0}, QUESTIONS[following]


def answer(state: dict[str, Any], text: str, known_name: str | None = None) -> Step:
    """Apply the caregiver's message to the current question."""
    field = state["field"]
    lowered = text.strip().lower().rstrip(".!")
    if lowered in _SKIP:
        new_state, reply = _move_on(field, known_name)
        return Step(new_state, None, reply)
    value = parse(field, text)
    if value is not None:
        name = value if field == "first_name" else known_name
        new_state, reply = _move_on(field, name)
        return Step(new_state, (field, value), reply)
    tries = int(state.get("tries", 0)) + 1
    if tries >= MAX_TRIES:
        new_state, reply = _move_on(field, known_name)
        return Step(new_state, None, reply)
    return Step({"field": field, "tries": tries}, None, HINTS[field])
