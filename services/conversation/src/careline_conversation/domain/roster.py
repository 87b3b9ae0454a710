"""The on-call roster: who is paged about crisis alerts, in which order.

Staff replace the whole list at once. A list is taken only whole and valid: every name given,
every phone number a real one (normalised to E.164, the form the SMS provider takes), no two
people with the same number or the same place in the order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from careline_contracts.admin import ROSTER_MAX_PEOPLE, OnCallPerson
from careline_platform.phone import InvalidPhoneNumber, to_e164


@dataclass(frozen=True)
class OnCall:
    """One person on call, as stored."""

    name: str
    phone: str
    order: int

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "phone": self.phone, "order": self.order}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OnCall:
        return cls(name=str(doc["name"]), phone=str(doc["phone"]), order=int(doc["order"]))


class InvalidRoster(ValueError):
    """The list cannot be the roster; the message says which entry and why (no phone number)."""


def validate(people: Iterable[OnCallPerson]) -> tuple[OnCall, ...]:
    """The roster in escalation order, or InvalidRoster naming the first problem."""
    roster: list[OnCall] = []
    for position, person in enumerate(people, start=1):
        name = " ".join(person.name.split())
        if not name:
            raise InvalidRoster(f"person {position}: a name is required")
        try:
            phone = to_e164(person.phone)
        except InvalidPhoneNumber as exc:
            raise InvalidRoster(f"person {position} ({name}): not a phone number") from exc
        if any(p.phone == phone for p in roster):
            raise InvalidRoster(f"person {position} ({name}): the same phone number as another person")
        if any(p.order == person.order for p in roster):
            raise InvalidRoster(f"person {position} ({name}): the same order as another person")
        roster.append(OnCall(name=name, phone=phone, order=person.order))
    if len(roster) > ROSTER_MAX_PEOPLE:
        raise InvalidRoster(f"at most {ROSTER_MAX_PEOPLE} people")
    return tuple(sorted(roster, key=lambda p: p.order))
