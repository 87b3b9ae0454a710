"""The words profile sends about check-ins, from ``data/checkins.toml``, in the caregiver's language.

Moments are written on the caregiver's own clock (``schedule.caregiver_zone``): "tomorrow after
4 PM", "on Tuesday, May 12" / "mañana después de las 4 p. m.", "el martes 12 de mayo". A moment
is rounded up to the next full hour, so "after 4 PM" is never earlier than the truth.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta
from enum import Enum
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from careline_profile.domain.schedule import aware, caregiver_zone
from careline_profile.domain.texts import language as texts_language

Language = Literal["en", "es"]
TEXTS_FILE = ("data", "checkins.toml")


@cache
def texts() -> dict[str, Any]:
    """The packaged texts, parsed once per process."""
    raw = files("careline_profile").joinpath(*TEXTS_FILE).read_text(encoding="utf-8")
    return tomllib.loads(raw)


def render(key: str, language: str, values: dict[str, Any], *, time_zone: str | None, now: datetime) -> str:
    """The text ``key`` in ``language`` with ``values`` written out for the caregiver."""
    lang = texts_language(language)
    table = texts()[lang]
    words = {name: _word(table, name, value, time_zone, now) for name, value in values.items()}
    text = str(table[key]).format(**words).replace("..", ".")  # "después de las 4 p. m.."
    return text.replace("las 1 ", "la 1 ") if lang == "es" else text  # "a la 1 p. m."


def _word(table: dict[str, Any], name: str, value: Any, time_zone: str | None, now: datetime) -> str:
    if name in ("frequency", "before", "after"):
        return str(table["frequency"][str(value.value if isinstance(value, Enum) else value)])
    if name == "title":
        return str(table["title"][value])
    if name == "until":
        return date_words(table, _local(value, time_zone))
    if name == "when":
        return when_words(table, value, time_zone, now)
    if name == "at":
        return clock_words(table, value)
    return str(value)


def when_words(table: dict[str, Any], at: datetime, time_zone: str | None, now: datetime) -> str:
    """ "later today, after 4 PM", "tomorrow after 4 PM" or "on Tuesday, May 12"."""
    local = _round_up_to_hour(_local(at, time_zone))
    today = _local(now, time_zone).date()
    when = table["when"]
    if local.date() == today:
        return str(when["today"]).format(time=clock_words(table, local.time()))
    if local.date() == today + timedelta(days=1):
        return str(when["tomorrow"]).format(time=clock_words(table, local.time()))
    return str(when["later"]).format(date=date_words(table, local))


def date_words(table: dict[str, Any], local: datetime) -> str:
    when = table["when"]
    return str(when["date"]).format(
        weekday=when["weekdays"][local.weekday()], month=when["months"][local.month - 1], day=local.day
    )


def clock_words(table: dict[str, Any], at: time) -> str:
    """ "6 PM", "6:30 PM" / "6 p. m."; midnight to noon is AM."""
    when = table["when"]
    if at.hour == 12 and at.minute == 0:
        return str(when["noon"])
    hour = at.hour % 12 or 12
    shown = f"{hour}:{at.minute:02d}" if at.minute else str(hour)
    return str(when["pm" if at.hour >= 12 else "am"]).format(hour=shown)


def _local(at: datetime, time_zone: str | None) -> datetime:
    return aware(at).astimezone(caregiver_zone(time_zone))


def _round_up_to_hour(local: datetime) -> datetime:
    if local.minute == local.second == local.microsecond == 0:
        return local
    return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
