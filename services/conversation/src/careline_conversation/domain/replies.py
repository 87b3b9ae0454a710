"""What the line says outside crisis, onboarding and tips: fixed texts, in English and Spanish.

The texts live in ``data/replies.toml`` (written by people, sized and checked by tests); the
functions here pick the caregiver's language and fill the few placeholders. English is the
fallback for any other language code.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

LANGUAGES = ("en", "es")


@cache
def _texts() -> dict[str, dict[str, str]]:
    raw = files("careline_conversation.domain").joinpath("data", "replies.toml").read_text(encoding="utf-8")
    texts: dict[str, dict[str, str]] = tomllib.loads(raw)
    for key, by_language in texts.items():
        missing = [code for code in LANGUAGES if not by_language.get(code)]
        if missing:
            raise ValueError(f"replies.toml: {key!r} has no text in {missing}")
    return texts


def text(key: str, language: str = "en") -> str:
    """The fixed text ``key`` in ``language`` (English for anything but "es")."""
    return _texts()[key]["es" if language == "es" else "en"]


def keys() -> list[str]:
    """Every fixed text's key (for the tests that check them all)."""
    return list(_texts())


def welcome(language: str = "en") -> str:
    """The first text a new caregiver gets: what the line is, that it is not 911, HELP and STOP."""
    return text("welcome", language)


def gentle(language: str = "en") -> str:
    """The rules agent's only reply in the day after a crisis: presence, and 988."""
    return text("gentle", language)


def checkout_message(url: str, language: str = "en", situation: str = "new", plan: str = "monthly") -> str:
    """A checkout link's text: the annual plan's, or the one for why it is sent (a trial that
    ended, a subscription that ended, a payment, an incomplete checkout, BILLING)."""
    key = "checkout_annual" if plan == "annual" else _CHECKOUT_TEXTS.get(situation, "checkout")
    return text(key, language).format(url=url)


_CHECKOUT_TEXTS = {
    "new": "checkout",
    "lapsed": "checkout_lapsed",
    "payment": "checkout_payment",
    "incomplete": "checkout_incomplete",
    "asked": "checkout_asked",
}


def billing_notice(
    notice: str, language: str = "en", *, url: str | None = None, days: int | None = None
) -> str:
    """Billing's notice ``notice`` (``notice_<name>`` in replies.toml) with its link or days left."""
    return text(f"notice_{notice}", language).format(url=url or "", when=days_phrase(days or 1, language))


def days_phrase(days: int, language: str = "en") -> str:
    """ "3 days", "1 day", "3 días", "1 día"."""
    if language == "es":
        return f"{days} día" if days == 1 else f"{days} días"
    return f"{days} day" if days == 1 else f"{days} days"


WELCOME = welcome("en")
GENTLE = gentle("en")
