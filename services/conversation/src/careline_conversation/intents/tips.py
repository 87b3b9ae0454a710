"""The rules agent's answer to an intent: an acknowledgement and one next step, from data.

The acknowledgements and tips live in ``data/tips.toml`` (each tip naming the catalogue entry
whose number or link it carries). The choice is deterministic, seeded by the message id, so a
golden transcript replays the same; it is never the reply the caregiver got last. The check-in
offer is one next step among the tips, and only where the data allows it, never for distress or
right after a check-in.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from careline_conversation.domain.local_resources import resources_for
from careline_conversation.intents.classifier import OTHER, Classification
from careline_conversation.safety.sizing import normalise_for_gsm, segments

TIPS_FILE = ("data", "tips.toml")
CHECKIN = "checkin"
# An outbound text that was a check-in, or the offer of one: the next reply does not offer another.
_CHECKIN_TEXT = re.compile(r"check[ -]?in|\(\d+ of \d+\)|\(\d+ de \d+\)", re.IGNORECASE)
RECENT_CHECKIN_WINDOW = 4
MAX_SEGMENTS = 3


@dataclass(frozen=True)
class Tip:
    text: dict[str, str]
    resource: str | None


@dataclass(frozen=True)
class IntentTips:
    acks: dict[str, tuple[str, ...]]
    tips: tuple[Tip, ...]
    checkin: bool
    local: bool
    need: str
    """The catalogue topic of this intent's local help (``domain.local_resources``)."""


@dataclass(frozen=True)
class Library:
    intents: dict[str, IntentTips]
    person: dict[str, dict[str, str]]
    words: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Caregiver:
    """What the reply may use about the caregiver (each None when not known)."""

    first_name: str | None = None
    relationship: str | None = None
    condition: str | None = None
    zip_code: str | None = None


def parse(data: dict[str, Any]) -> Library:
    intents = {
        intent_id: IntentTips(
            acks={lang: tuple(raw["ack"][lang]) for lang in ("en", "es")},
            tips=tuple(Tip({lang: t[lang] for lang in ("en", "es")}, t.get("resource")) for t in raw["tip"]),
            checkin=bool(raw.get("checkin", False)),
            local=bool(raw.get("local", False)),
            need=str(raw.get("need", "general")),
        )
        for intent_id, raw in data["intent"].items()
    }
    return Library(intents, data["person"], data["words"])


@cache
def library() -> Library:
    text = files("careline_conversation.intents").joinpath(*TIPS_FILE).read_text(encoding="utf-8")
    return parse(tomllib.loads(text))


def after_checkin(recent: Sequence[dict[str, Any]]) -> bool:
    """True when one of the last few messages was a check-in, its offer, or a request for one."""
    return any(_CHECKIN_TEXT.search(str(m.get("text", ""))) for m in list(recent)[-RECENT_CHECKIN_WINDOW:])


def last_reply(recent: Sequence[dict[str, Any]]) -> str | None:
    replies = [str(m.get("text", "")) for m in recent if m.get("dir") == "out"]
    return replies[-1] if replies else None


def _seed(message_id: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{message_id}:{salt}".encode()).digest()[:8], "big")


def _fill(text: str, lang: str, who: Caregiver, lib: Library) -> str:
    person = lib.person[lang].get(who.relationship or "other", lib.person[lang]["other"])
    return text.format(
        name=f", {who.first_name}" if who.first_name else "",
        person=person,
        condition=who.condition or lib.words["condition"][lang],
    )


_WORD = re.compile(r"[a-z]{4,}")
_COMMON = frozenset(
    {"that", "this", "with", "have", "what", "does", "from", "your", "they", "them", "when", "just",
     "like", "about", "would", "could", "should", "there", "their", "been", "were", "will", "into",
     "some", "more", "than", "then", "very", "much", "over", "only", "also", "even", "keep", "time",
     "times", "every", "single", "always", "never", "again", "still", "really", "today", "week",
     "para", "como", "pero", "esta", "este", "todo", "cuando", "tiene", "hace", "donde", "porque",
     "sobre", "mucho"}
)  # fmt: skip


def _stems(text: str) -> set[str]:
    """The first four letters of each longer word, accents dropped: "bathe" and "bath" meet."""
    bare = unicodedata.normalize("NFKD", text.lower())
    bare = "".join(c for c in bare if not unicodedata.combining(c))
    return {word[:4] for word in _WORD.findall(bare) if word not in _COMMON}


def _most_relevant_first(steps: list[str], message: str, general: str) -> tuple[list[str], int]:
    """The steps with those sharing the most words with the message first, and how many share
    that most (0 when none shares any: the order is unchanged). Words of ``general`` (the
    intent's acknowledgements: "refusals" for every refusal) do not count. "how do I get her
    to bathe" reaches the bath tip, "she spits out her pills" the pills one."""
    said = _stems(message) - _stems(general)
    scores = [len(said & _stems(step)) for step in steps]
    best = max(scores, default=0)
    if best == 0:
        return steps, 0
    first = [step for step, score in zip(steps, scores, strict=True) if score == best]
    return first + [step for step, score in zip(steps, scores, strict=True) if score != best], len(first)


def compose(
    found: Classification,
    *,
    language: str,
    message_id: str,
    who: Caregiver,
    recent: Sequence[dict[str, Any]] = (),
    lib: Library | None = None,
    message: str = "",
) -> str:
    """The reply to a classified message: acknowledgement, one next step, a ZIP ask if useful.

    Among the intent's tips, one that shares words with ``message`` comes first; otherwise the
    message id's seed picks."""
    lib = lib or library()
    lang = language if language in ("en", "es") else "en"
    entry = lib.intents.get(found.intent) or lib.intents[OTHER]
    steps: list[str] = [tip.text[lang] for tip in entry.tips]
    if entry.checkin and not found.distress and not after_checkin(recent):
        steps.append(lib.words[CHECKIN][lang])
    acks = entry.acks[lang]
    ack = acks[_seed(message_id, "ack") % len(acks)]
    ask = " " + lib.words["zip"][lang] if entry.local and not who.zip_code else ""
    if entry.local and who.zip_code:  # the ZIP places them: the help near them is the next step
        near = resources_for(entry.need, who.zip_code, lang)
        if not near.asks_for_zip:
            steps = [near.text]
    previous = last_reply(recent)
    steps, relevant = _most_relevant_first(steps, message, " ".join(acks))
    start = _seed(message_id, "step") % (relevant or len(steps))
    keep = (who.first_name,) if who.first_name else ()
    candidates: list[str] = []
    for offset in range(len(steps) * len(acks)):
        step = steps[(start + offset) % len(steps)]
        ack_now = acks[(start + offset // len(steps)) % len(acks)] if offset >= len(steps) else ack
        end = "" if not ask or step[-1] in ".?!" else "."
        candidates.append(_fill(f"{ack_now} {step}{end}{ask}", lang, who, lib))
    fresh = [text for text in candidates if text != previous] or candidates

    # Prefer words that fit as they will be sent: a Spanish reply keeps its accents when it fits
    # as UCS-2 (67 characters a part), and an accented name makes any reply UCS-2.
    def fits(text: str, accents: bool) -> bool:
        return segments(normalise_for_gsm(text, keep=keep, accents=accents)) <= MAX_SEGMENTS

    preferences = ([True] if lang == "es" else []) + [False]
    for accents in preferences:
        fitting = [text for text in fresh if fits(text, accents)]
        if fitting:
            return fitting[0]
    return fresh[0]


def opens_as(text: str, *intents: str) -> bool:
    """Whether ``text`` opens with one of the acknowledgements of ``intents`` (either language;
    what precedes the first placeholder, such as the caregiver's name, must match). Tests use
    it to recognise an answer whatever words the message id's seed chose."""
    lib = library()
    for intent in intents:
        for acks in lib.intents[intent].acks.values():
            for ack in acks:
                head = ack.split("{")[0]
                if len(head) >= 6 and text.startswith(head):
                    return True
    return False


def answers(text: str, message: str) -> bool:
    """Whether ``text`` is the rules agent's kind of answer to ``message``: it opens with an
    acknowledgement of the intent ``message`` is classified as."""
    from careline_conversation.intents.classifier import classify

    return opens_as(text, classify(message).intent)
