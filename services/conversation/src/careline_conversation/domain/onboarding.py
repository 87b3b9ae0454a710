"""Onboarding that listens: first name, relationship, condition, ZIP, each skippable.

Pure logic over a small progress document kept in ``conversation_state.onboarding``::

    {"field": <the question asked, None when done>, "tries": n, "waiting": bool,
     "done_at": <when onboarding ended>, "reasked": [<fields>], "reask": {"field", "at", "open"}}

It listens before it asks. The first message is acknowledged before the first question, and
distress gets a caring line first (``[care]`` in ``data/onboarding.toml``); after a loss the
question waits for the next message. A fact stated at any time ("I'm in 60614" while the name
is asked, ``profile_facts.volunteered``) is kept and its question is not asked. A message that
is clearly not an answer (distress, a question, a long sentence) never gets a format hint: a
question or a long sentence goes to the agent (``Step.aside``), with the pending question after
its words. An answer that does not parse is hinted once; a second miss moves on, so nobody is
stuck in a form.

A fact skipped or missed is asked again once, 24 hours after onboarding ended, at the end of
the first ordinary reply (``reask_due``, ``reask``); never after distress, a crisis or during an
assessment (``turn`` only asks on the agent's path, outside post-crisis mode). Onboarding ends
with the offer of a first check-in, since without a burnout band there are no proactive ones.

All texts are data (``data/onboarding.toml``), in English and Spanish; the caller passes the
caregiver's language. The facts go to profile as events; conversation keeps them in ``facts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from careline_conversation.domain import profile_facts
from careline_conversation.domain.profile_facts import Language, is_skip, looks_like_a_question, parse
from careline_conversation.intents import Classification, classify
from careline_conversation.safety.sizing import segments

__all__ = ["FIELDS", "parse"]

FIELDS = ("first_name", "relationship", "condition", "zip")
MAX_TRIES = 2
REASK_AFTER = timedelta(hours=24)
MAX_SEGMENTS = 3
WELCOME_SEGMENTS = 4
"""The first reply alone may take a fourth segment, once per caregiver: the welcome must say
what the line is, that it is not 911, HELP and STOP, and a name or a Spanish word with an
accent makes the whole text UCS-2 (67 characters a part), which would otherwise leave no room
for the first question."""
LONG_ANSWER_WORDS = 8
"""More words than this, with no answer in them, is a sentence, not an attempt at an answer."""
SAYS_NOTHING = frozenset({"greeting", "thanks"})
"""Intents of a first message that needs no acknowledgement beyond the welcome."""

Progress = dict[str, Any]


@dataclass(frozen=True)
class Step:
    """What one message did to onboarding: the new progress, the facts learned, what to say.

    ``aside``: the agent answers the message (a question, a long sentence) and ``then`` is the
    fixed text that follows its words (the pending question), both sent as one reply.
    """

    state: Progress
    facts: tuple[tuple[str, str], ...] = ()
    reply: str | None = None
    aside: bool = False
    then: str | None = None

    @property
    def fact(self) -> tuple[str, str] | None:
        return self.facts[0] if self.facts else None

    @property
    def done(self) -> bool:
        return not is_active(self.state)


def _text(section: str, key: str, language: Language) -> str:
    return str(profile_facts.data()[section][key][language])


def question(field: str, language: Language = "en") -> str:
    return _text("question", field, language)


def hint(field: str, language: Language = "en") -> str:
    return _text("hint", field, language)


def _named(section: str, key: str | None, name: str | None, language: Language) -> str:
    raw = profile_facts.data()[section]
    template = str((raw[key] if key else raw)[language])
    return template.format(name=f", {name}" if name else "")


def done_text(name: str | None, language: Language = "en") -> str:
    """The end of onboarding: thanks (by name) and the offer of a first check-in."""
    return _named("done", None, name, language)


def care_line(intent: str, language: Language = "en") -> str:
    """The caring line for a distress intent (its own, else the default one)."""
    table = profile_facts.data()["care"]
    return str(table.get(intent, table["default"])[language])


def acknowledgement(kind: str, language: Language = "en", name: str | None = None) -> str:
    """``said`` (a first message that says something), ``noted`` (a fact before its question),
    ``named`` (after a name)."""
    return _named("ack", kind, name, language)


def care(found: Classification, language: Language) -> str:
    return care_line(found.intent, language)


def start() -> Progress:
    return {"field": FIELDS[0], "tries": 0}


def is_active(state: Progress | None) -> bool:
    return state is not None and state.get("field") is not None


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def _fits(*parts: str | None, budget: int = MAX_SEGMENTS) -> bool:
    return segments(_join(*parts)) <= budget


def _next(after: str | None, known: Mapping[str, str]) -> str | None:
    """The next question: the first field after ``after`` that is not known yet."""
    start_at = 0 if after is None else FIELDS.index(after) + 1
    return next((f for f in FIELDS[start_at:] if f not in known), None)


def _finished(progress: Progress, now: datetime) -> Progress:
    kept = {k: v for k, v in progress.items() if k in ("reasked", "reask")}
    return {**kept, "field": None, "tries": 0, "done_at": now}


def _ahead(
    after: str | None, known: Mapping[str, str], language: Language, now: datetime
) -> tuple[Progress, str]:
    """The progress and text after ``after``: the next question, or the end of onboarding."""
    following = _next(after, known)
    if following is None:
        return _finished({}, now), done_text(known.get("first_name"), language)
    return {"field": following, "tries": 0}, question(following, language)


def _acknowledgement(
    found: Classification, message: str, facts: Mapping[str, str], language: Language
) -> str | None:
    if found.distress:
        return care(found, language)
    if "first_name" in facts:
        return acknowledgement("named", language, facts["first_name"])
    says_something = found.intent not in SAYS_NOTHING and (
        found.intent != "other" or len(message.split()) >= 3
    )
    return acknowledgement("said", language) if facts or says_something else None


def welcome(greeting: str, message: str, *, language: Language, now: datetime) -> Step:
    """The reply to a new caregiver's first message: ``greeting`` (the welcome), an
    acknowledgement of what the message said (care first for distress), then the first question
    not answered already. What does not fit ``WELCOME_SEGMENTS`` waits: the acknowledgement of
    an ordinary message first, else the question (it is asked with the next message); a caring
    line is never dropped. When the first message answered every question, the closing words
    (which thank the caregiver by name) are the acknowledgement."""
    found = classify(message)
    facts = profile_facts.volunteered(message, language)
    lead = _acknowledgement(found, message, facts, language)
    progress, ask = _ahead(None, facts, language, now)
    if not is_active(progress) and not found.distress:
        lead = None
    waits = found.distress and found.intent == "grief"
    candidates = [(lead, ask), (lead, None)] if found.distress else [(lead, ask), (None, ask)]
    for said, asked in candidates:
        if (asked is None or not waits) and _fits(greeting, said, asked, budget=WELCOME_SEGMENTS):
            break
    else:  # care outranks the segment budget; an ordinary acknowledgement does not
        said, asked = (lead, None) if found.distress else (None, None)
    if asked is None and is_active(progress):
        progress = {**progress, "waiting": True}
    return Step(progress, tuple(facts.items()), _join(greeting, said, asked))


def answer(
    progress: Progress,
    text: str,
    *,
    known: Mapping[str, str],
    language: Language = "en",
    now: datetime,
    aside_ok: bool = True,
) -> Step:
    """Apply the caregiver's message to the question asked (``progress["field"]``).

    ``known``: the facts already learned. ``aside_ok``: the agent may answer a message that is
    not an answer (False for a caregiver without access: the question is asked again instead).
    """
    field = str(progress["field"])
    waiting = bool(progress.get("waiting"))
    if is_skip(text):
        state, after = _ahead(field, known, language, now)
        return Step(state, (), after)
    found = classify(text)
    facts = profile_facts.volunteered(text, language)
    value = None if waiting else parse(field, text, language)  # unasked, only facts stated outright
    if value is not None:
        facts[field] = value
    facts = {f: v for f, v in facts.items() if f == field or f not in known}
    learned, everything = tuple(facts.items()), {**known, **facts}
    if field in facts:
        state, after = _ahead(field, everything, language, now)
    elif facts:  # a fact given before its question: kept, and this question stays
        state, after = {"field": field, "tries": progress.get("tries", 0)}, question(field, language)
    else:
        return _not_an_answer(
            progress, text, found, language=language, now=now, known=known, aside_ok=aside_ok
        )
    if found.distress and found.intent == "grief" and is_active(state):  # the question waits
        return Step({**state, "waiting": True}, learned, care(found, language))
    lead: str | None
    if found.distress:
        lead = care(found, language)
    elif field in facts:
        lead = acknowledgement("named", language, facts[field]) if field == "first_name" else None
    else:
        lead = acknowledgement("noted", language)
    return Step(state, learned, _join(lead, after))


def _not_an_answer(
    progress: Progress,
    text: str,
    found: Classification,
    *,
    language: Language,
    now: datetime,
    known: Mapping[str, str],
    aside_ok: bool,
) -> Step:
    field, waiting = str(progress["field"]), bool(progress.get("waiting"))
    tries = int(progress.get("tries", 0)) + (0 if waiting else 1)
    again: tuple[Progress, str] = ({"field": field, "tries": tries}, question(field, language))
    state, after = again if tries < MAX_TRIES else _ahead(field, known, language, now)
    if found.distress:
        if found.intent == "grief" or waiting:  # the question waits for a calmer message
            if waiting and aside_ok:
                return Step({**progress}, aside=True)
            return Step(
                {"field": field, "tries": progress.get("tries", 0), "waiting": True},
                (),
                care(found, language),
            )
        return Step(state, (), _join(care(found, language), after))
    sentence = looks_like_a_question(text) or len(text.split()) > LONG_ANSWER_WORDS
    if sentence and aside_ok:
        return Step(state, (), aside=True, then=after)
    if sentence or waiting:
        return Step(state, (), after)
    if tries < MAX_TRIES:
        return Step(state, (), hint(field, language))
    return Step(state, (), after)


def closed_by_loss(progress: Progress | None, now: datetime) -> Progress:
    """Onboarding after the person cared for died: no more questions, and no fact asked again
    (a ZIP or a condition is not what a grieving caregiver should be asked for)."""
    done_at = (progress or {}).get("done_at") or now
    return {"field": None, "tries": 0, "done_at": done_at, "reasked": list(FIELDS)}


def reask_due(progress: Progress | None, known: Mapping[str, str], message: str, now: datetime) -> str | None:
    """The missing fact to ask again at the end of this ordinary reply, if one is due: 24 hours
    after onboarding ended (and after the last re-ask), each field once, never after distress."""
    if not progress or is_active(progress) or progress.get("done_at") is None:
        return None
    last = (progress.get("reask") or {}).get("at") or progress["done_at"]
    if now - progress["done_at"] < REASK_AFTER or now - last < REASK_AFTER:
        return None
    asked = set(progress.get("reasked") or ())
    missing = next((f for f in FIELDS if f not in known and f not in asked), None)
    if missing is None or classify(message).distress:
        return None
    return missing


def reask(progress: Progress, field: str, language: Language, now: datetime) -> tuple[Progress, str]:
    """The progress recording that ``field`` was asked again, and the text that asks it."""
    asked = [*(progress.get("reasked") or ()), field]
    state = {**progress, "reasked": asked, "reask": {"field": field, "at": now, "open": True}}
    return state, _join(_text("reask", "lead", language), question(field, language))


def answer_reask(
    progress: Progress | None, text: str, *, known: Mapping[str, str], language: Language
) -> Step | None:
    """The message after a re-ask: its answer (a fact and thanks), a skip, or, when it is
    something else, a Step with no reply (the question is closed; the message goes on)."""
    pending = (progress or {}).get("reask") or {}
    if not progress or not pending.get("open"):
        return None
    closed = {**progress, "reask": {**pending, "open": False}}
    if is_skip(text):
        return Step(closed, (), _text("reask", "skipped", language))
    field = str(pending["field"])
    if field == "condition":  # in free conversation only a named condition is one
        named = profile_facts.known_conditions(text, language)
        value = named[0] if named else None
    else:
        value = parse(field, text, language)
    if value is None:
        return Step(closed)
    name = value if field == "first_name" else known.get("first_name")
    return Step(closed, ((field, value),), _named("reask", "thanks", name, language))
