"""What the line remembers about a caregiver, kept in conversation's slice: pure rules.

Two sources share one view (:func:`view`):

- ``state["facts"]``: the profile facts onboarding or the agent learned (first name,
  relationship, ZIP, and whatever field onboarding adds, such as ``condition``), read
  generically, field by field, so a new onboarding question lands here without a change;
- ``state["memory"]``: what the caregiver told the line about the person they care for and
  themselves, from the extractor (``memory.extract``) or the agent's ``remember`` tool::

      {"recipient_name": "Rosa", "condition": "dementia", "living_situation": "lives with us",
       "stressors": ["nights", ...], "what_helped": ["the adult day program", ...],
       "updated_at": <when>}

A value is the caregiver's own short words, never a phone number, link or e-mail address
(:func:`validate`): memory goes into the OpenAI request, and a contact in it could come back in
a reply. The whole slice goes with the caregiver's erasure (``conversation_state`` is deleted).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from careline_conversation.safety.catalogue import links_in, numbers_in

Document = dict[str, Any]

SINGLE = ("recipient_name", "condition", "living_situation")
"""Fields with one value: a newer statement replaces the older."""
LISTS = {"stressor": "stressors", "what_helped": "what_helped"}
"""Fields with a few values (the tool's field name -> the stored list), newest last."""
FIELDS = (*SINGLE, *LISTS)
"""What the ``remember`` tool and the extractor may store."""
KEEP = 3
"""Values kept per list field: the latest few, so the prompt stays short."""
MIN_CHARS, MAX_CHARS = 2, 80
LABELS = {
    "relationship": "who they care for",
    "condition": "the care recipient's condition",
    "recipient_name": "the care recipient's name",
    "living_situation": "living situation",
    "stressors": "main stressors",
    "what_helped": "what has helped",
}
HIDDEN = frozenset({"first_name", "zip"})
"""Profile facts the view leaves out: the name has its own line in the prompt, and the ZIP
stays with the line (local resources come from the catalogue, not from the model)."""

_DIGIT_RUN = re.compile(r"\d[\d\s().\-]{5,}\d")
_EMAIL = re.compile(r"\S+@\S+")


def validate(field: str, value: object) -> str | None:
    """The value to store for ``field``, or None when it may not be stored: an unknown field,
    too short or too long, or containing a phone number, a long run of digits, a link or an
    e-mail address."""
    if field not in FIELDS or not isinstance(value, str):
        return None
    cleaned = " ".join(value.split()).strip(" .,;:!?\"'")
    if not MIN_CHARS <= len(cleaned) <= MAX_CHARS:
        return None
    if numbers_in(cleaned) or links_in(cleaned) or _DIGIT_RUN.search(cleaned) or _EMAIL.search(cleaned):
        return None
    return cleaned


def remember(memory: Mapping[str, Any] | None, learned: Iterable[tuple[str, str]], now: datetime) -> Document:
    """The ``$set`` fields (dotted, under ``memory.``) that store ``learned`` (field, value)
    pairs on top of ``memory``; empty when nothing validates or nothing is new."""
    current = dict(memory or {})
    fields: Document = {}
    for field, raw in learned:
        value = validate(field, raw)
        if value is None:
            continue
        if field in SINGLE:
            if str(current.get(field, "")).casefold() != value.casefold():
                current[field] = fields[f"memory.{field}"] = value
            continue
        name = LISTS[field]
        before = [str(v) for v in current.get(name) or []]
        after = [*(v for v in before if v.casefold() != value.casefold()), value][-KEEP:]
        if after != before:  # a value said again moves to the end (the newest)
            current[name] = fields[f"memory.{name}"] = after
    if fields:
        fields["memory.updated_at"] = now
    return fields


def apply(state: Mapping[str, Any], fields: Mapping[str, Any]) -> Document:
    """A copy of ``state`` with dotted ``$set`` fields applied (what the write will leave)."""
    result = copy.deepcopy(dict(state))
    for path, value in fields.items():
        *parents, last = path.split(".")
        target = result
        for part in parents:
            child = target.get(part)
            target[part] = child = dict(child) if isinstance(child, dict) else {}
            target = child
        target[last] = value
    return result


def condition(state: Mapping[str, Any]) -> str | None:
    """The care recipient's condition: onboarding's answer first, then what was remembered."""
    facts = state.get("facts") or {}
    memory = state.get("memory") or {}
    return facts.get("condition") or memory.get("condition") or None


def view(state: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What the agent is told it remembers: (label, value) pairs, profile facts first."""
    lines: list[tuple[str, str]] = []
    facts = state.get("facts") or {}
    for field, value in facts.items():
        if field not in HIDDEN and isinstance(value, str) and value:
            lines.append((LABELS.get(field, field.replace("_", " ")), value))
    memory = state.get("memory") or {}
    for field in SINGLE:
        value = memory.get(field)
        if value and not (facts.get(field)):
            lines.append((LABELS[field], str(value)))
    for name in LISTS.values():
        values = [str(v) for v in memory.get(name) or []]
        if values:
            lines.append((LABELS[name], "; ".join(values)))
    return tuple(lines)


RECENT_CRISIS = timedelta(days=30)
"""How long the agent is told a crisis happened (its category only, never the text)."""
SILENT_KINDS = ("crisis", "stop", "help", "start", "silent:opted_out", "language:", "assessment:")
"""Turns whose message teaches the memory nothing: a crisis (its words are never kept or
recalled), keywords, an opted-out number, language switches and assessment answers."""


def learns_from(kind: str) -> bool:
    """Whether the message of a turn of this ``kind`` may be read for facts and kept for recall."""
    return not kind.startswith(SILENT_KINDS)


def recent_crisis(state: Mapping[str, Any], now: datetime) -> str | None:
    """The category of the caregiver's latest crisis if it was within ``RECENT_CRISIS``."""
    crisis = state.get("crisis")
    if crisis and crisis.get("at") is not None and now - crisis["at"] < RECENT_CRISIS:
        return str(crisis.get("category") or "unspecified")
    return None


def wellbeing(state: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """The band and pressure zones of the caregiver's latest assessment (profile's result event)."""
    known = state.get("wellbeing") or {}
    return known.get("band"), tuple(str(z) for z in known.get("pressure_zones") or ())
