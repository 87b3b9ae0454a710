"""The on-call roster is taken whole and valid: names, real numbers (normalised), distinct orders."""

from __future__ import annotations

import pytest

from careline_contracts.admin import OnCallPerson
from careline_conversation.domain.roster import InvalidRoster, OnCall, validate


def person(name: str, phone: str, order: int) -> OnCallPerson:
    return OnCallPerson(name=name, phone=phone, order=order)


def test_the_roster_is_sorted_by_order_with_numbers_in_e164() -> None:
    roster = validate([person("Ben", "(415) 555-0102", 20), person(" Ana  Li ", "+1 415 555 0101", 10)])
    assert roster == (OnCall("Ana Li", "+14155550101", 10), OnCall("Ben", "+14155550102", 20))


def test_an_empty_roster_is_a_roster() -> None:
    assert validate([]) == ()


@pytest.mark.parametrize(
    ("people", "problem"),
    [
        ([person("Ana", "not a number", 1)], "not a phone number"),
        ([person("Ana", "+14155550101", 1), person("Ben", "415-555-0101", 2)], "same phone number"),
        ([person("Ana", "+14155550101", 1), person("Ben", "+14155550102", 1)], "same order"),
        ([person("   ", "+14155550101", 1)], "a name is required"),
    ],
    ids=["bad-number", "same-number", "same-order", "blank-name"],
)
def test_a_list_with_a_problem_is_refused_naming_it(people: list[OnCallPerson], problem: str) -> None:
    with pytest.raises(InvalidRoster, match=problem) as refused:
        validate(people)
    assert "+1415" not in str(refused.value)  # the reason never quotes a number
