"""Ingress's short memory of phone number -> identity, which keeps MongoDB off the webhook path."""

from __future__ import annotations

from careline_ingress.callers import KnownCallers


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def user(n: int, registered: bool = True) -> dict[str, object]:
    return {"_id": f"usr_{n}", "phone": f"+1415555{n:04d}", "registered_published": registered}


def test_a_registered_caller_is_remembered_until_the_ttl_passes() -> None:
    clock = Ticks()
    known = KnownCallers(ttl_s=30, clock=clock)
    known.remember(user(1))
    clock.now = 29.0
    assert known.get("+14155550001") == user(1)
    clock.now = 31.0
    assert known.get("+14155550001") is None


def test_a_caller_whose_registration_is_not_published_is_not_remembered() -> None:
    known = KnownCallers()
    known.remember(user(2, registered=False))
    assert known.get("+14155550002") is None


def test_erasing_a_user_forgets_them_at_once() -> None:
    known = KnownCallers()
    known.remember(user(3))
    known.remember(user(4))
    known.forget_user("usr_3")
    assert known.get("+14155550003") is None
    assert known.get("+14155550004") is not None


def test_the_oldest_caller_goes_when_the_memory_is_full() -> None:
    known = KnownCallers(max_entries=2)
    for n in (5, 6, 7):
        known.remember(user(n))
    assert known.get("+14155550005") is None
    assert known.get("+14155550007") is not None
