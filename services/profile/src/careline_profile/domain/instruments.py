"""The questionnaires the line asks, defined as data.

Every item is a statement the caregiver rates on one 1-5 frequency scale (1 = never,
5 = always), so one scale hint serves every question and the answer parser needs to know only
one set of words. Items are worded so that a higher answer means more strain, except the
positively worded ones ("I have someone I can lean on"), which are marked ``reverse`` and
flipped when scored. The wording is Careline's own; it is not taken from a published scale.

Each question is sent as one SMS: "(2 of 12) <item text>" on one line and the scale hint on
the next, 160 GSM-7 characters at most (a unit test holds every item to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

SCALE_HINT = "1=never ... 5=always"
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
    """One statement rated 1-5; ``reverse`` marks a positively worded one (scored 6 - answer)."""

    key: str
    text: str
    zone: Zone
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Instrument:
    """A questionnaire: its items in asking order, and how often it may be asked at most."""

    key: str
    title: str
    intro: str
    items: tuple[Item, ...]
    min_interval: timedelta

    def __post_init__(self) -> None:
        keys = [item.key for item in self.items]
        if not keys:
            raise ValueError(f"instrument {self.key!r} has no items")
        if len(set(keys)) != len(keys):
            raise ValueError(f"instrument {self.key!r} repeats an item key")

    def item(self, key: str) -> Item:
        """The item with ``key``; KeyError when the instrument has none."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f"instrument {self.key!r} has no item {key!r}")


def format_question(instrument: Instrument, position: int) -> str:
    """The SMS that asks item ``position`` (0-based): progress prefix, statement, scale hint."""
    item = instrument.items[position]
    return f"({position + 1} of {len(instrument.items)}) {item.text}\n{SCALE_HINT}"


CHECKIN = Instrument(
    key="checkin",
    title="daily check-in",
    intro="Quick check-in: 3 short questions about today, each answered 1-5. Text SKIP to skip one.",
    items=(
        Item("stress", "Today I have felt stressed or tense.", Zone.EMOTIONAL),
        Item("mood", "Today I have felt low or down.", Zone.EMOTIONAL),
        Item("support", "Today I have felt that someone has my back.", Zone.SOCIAL, reverse=True),
    ),
    min_interval=timedelta(days=1),
)

BURNOUT = Instrument(
    key="burnout",
    title="caregiver check-up",
    intro=(
        "Caregiver check-up: 12 short questions about the past two weeks, each answered 1-5. "
        "Text SKIP to skip one."
    ),
    items=(
        Item(
            "overwhelmed", "Over the past two weeks, I have felt overwhelmed by caregiving.", Zone.EMOTIONAL
        ),
        Item("low_mood", "I have felt sad, low or hopeless.", Zone.EMOTIONAL),
        Item(
            "calm_moments",
            "I have still found moments of calm or joy in my day.",
            Zone.EMOTIONAL,
            reverse=True,
        ),
        Item("worn_out", "I have felt physically worn out.", Zone.PHYSICAL),
        Item("sleep", "Caregiving has cut into my sleep.", Zone.PHYSICAL),
        Item(
            "own_health",
            "I have kept up with my own meals, rest and health needs.",
            Zone.PHYSICAL,
            reverse=True,
        ),
        Item("alone", "I have felt alone with the job of caregiving.", Zone.SOCIAL),
        Item("lean_on", "I have had someone I can lean on when things get hard.", Zone.SOCIAL, reverse=True),
        Item("money_worry", "I have worried about paying for care or keeping up with bills.", Zone.FINANCIAL),
        Item("work_income", "Caregiving has gotten in the way of my work or income.", Zone.FINANCIAL),
        Item("no_time", "I have had no time left over for myself.", Zone.TIME),
        Item("breaks", "I have been able to take a break when I needed one.", Zone.TIME, reverse=True),
    ),
    min_interval=timedelta(days=7),
)

INSTRUMENTS: dict[str, Instrument] = {instrument.key: instrument for instrument in (CHECKIN, BURNOUT)}
