"""The questionnaires the line asks, defined as data.

Every item is a statement the caregiver rates on one 1-5 frequency scale (1 = never,
5 = always), so one scale hint serves every question and the answer parser needs to know only
one set of words. Items are worded so that a higher answer means more strain, except the
positively worded ones ("I have someone I can lean on"), which are marked ``reverse`` and
flipped when scored. The wording is Careline's own; it is not taken from a published scale.

Each question is sent as one SMS: "(2 of 12) <item text>" on one line and the scale hint on
the next, in the caregiver's language: one GSM-7 segment in English, two in Spanish (whose
accents make it UCS-2); a unit test holds every item to it. The words live in
``data/texts.toml`` (``domain.texts``); this module holds the structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from careline_profile.domain.texts import say

SCALE_HINT = say("scale.hint", "en")
SCALE_MIN = 1
SCALE_MAX = 5


class Zone(StrEnum):
    """A part of a caregiver's life that caregiving can put under pressure."""

    EMOTIONAL = "emotional"
    PHYSICAL = "physical"
    SOCIAL = "social"
    FINANCIAL = "financial"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class Item:
    """One statement rated 1-5; ``reverse`` marks a positively worded one (scored 6 - answer).

    Its words are ``item.<key>`` in ``data/texts.toml`` (keys are unique across instruments)."""

    key: str
    zone: Zone
    reverse: bool = False

    def text_in(self, language: str | None) -> str:
        return say(f"item.{self.key}", language)

    @property
    def text(self) -> str:
        """The statement in English."""
        return self.text_in("en")


@dataclass(frozen=True, slots=True)
class Instrument:
    """A questionnaire: its items in asking order, and how often it may be asked at most."""

    key: str
    items: tuple[Item, ...]
    min_interval: timedelta

    def __post_init__(self) -> None:
        keys = [item.key for item in self.items]
        if not keys:
            raise ValueError(f"instrument {self.key!r} has no items")
        if len(set(keys)) != len(keys):
            raise ValueError(f"instrument {self.key!r} repeats an item key")

    def title_in(self, language: str | None) -> str:
        """What the result calls it ("daily check-in"; in Spanish with its article)."""
        return say(f"instrument.{self.key}.title", language)

    def intro_in(self, language: str | None) -> str:
        """The line that opens it: how many questions, the scale, SKIP."""
        return say(f"instrument.{self.key}.intro", language)

    @property
    def title(self) -> str:
        return self.title_in("en")

    @property
    def intro(self) -> str:
        return self.intro_in("en")

    def item(self, key: str) -> Item:
        """The item with ``key``; KeyError when the instrument has none."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f"instrument {self.key!r} has no item {key!r}")


def format_question(instrument: Instrument, position: int, language: str | None = "en") -> str:
    """The SMS that asks item ``position`` (0-based): progress prefix, statement, scale hint."""
    item = instrument.items[position]
    progress = say("scale.progress", language, n=position + 1, total=len(instrument.items))
    return f"{progress} {item.text_in(language)}\n{say('scale.hint', language)}"


CHECKIN = Instrument(
    key="checkin",
    items=(
        Item("stress", Zone.EMOTIONAL),
        Item("mood", Zone.EMOTIONAL),
        Item("support", Zone.SOCIAL, reverse=True),
    ),
    min_interval=timedelta(days=1),
)

BURNOUT = Instrument(
    key="burnout",
    items=(
        Item("overwhelmed", Zone.EMOTIONAL),
        Item("low_mood", Zone.EMOTIONAL),
        Item("calm_moments", Zone.EMOTIONAL, reverse=True),
        Item("worn_out", Zone.PHYSICAL),
        Item("sleep", Zone.PHYSICAL),
        Item("own_health", Zone.PHYSICAL, reverse=True),
        Item("alone", Zone.SOCIAL),
        Item("lean_on", Zone.SOCIAL, reverse=True),
        Item("money_worry", Zone.FINANCIAL),
        Item("work_income", Zone.FINANCIAL),
        Item("no_time", Zone.TIME),
        Item("breaks", Zone.TIME, reverse=True),
    ),
    min_interval=timedelta(days=7),
)

INSTRUMENTS: dict[str, Instrument] = {instrument.key: instrument for instrument in (CHECKIN, BURNOUT)}
