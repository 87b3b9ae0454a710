"""An assessment in progress, kept as a plain dict so the repository can store it as is.

Rules:
- Items are asked one at a time, "(i of n) <statement>" plus the scale hint.
- A clear answer (see ``answers.parse_answer``) is stored under the item key and the next item
  is asked; SKIP moves on without an answer.
- An answer that cannot be read is asked again once, with a hint. A second unreadable answer
  in a row pauses the assessment (the caregiver is probably talking about something else);
  ``resume`` (on "check in") asks the same item again. While paused, a clear answer (a number,
  a frequency word, SKIP) resumes the assessment and counts; anything else is not meant for
  it: the step says PAUSED with no reply and the state unchanged, so the caller can hand the
  message to the conversation instead.
- 24 hours after its last activity an assessment has expired: it is dropped, not scored.
- When the last item is done the answers are scored; if every item was skipped there is
  nothing to score and the caregiver gets a kind invitation to try again later.

Every text is in the assessment's language (``language``: "en" or "es", set when it starts
and changed by an answer that carries a newer one, as after ESPAÑOL mid-way).

State keys: ``version``, ``instrument``, ``language``, ``position`` (0-based index of the item being asked),
``answers`` (item key -> 1-5), ``skipped`` (item keys), ``misses`` (unreadable answers in a
row), ``status`` ("asking" or "paused"), ``started_at`` and ``updated_at`` (UTC datetimes;
naive ones, as MongoDB returns them by default, are read as UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from careline_profile.domain.answers import SKIP, parse_answer
from careline_profile.domain.instruments import INSTRUMENTS, Instrument, format_question
from careline_profile.domain.scoring import Result, score
from careline_profile.domain.texts import language as language_code
from careline_profile.domain.texts import say

STATE_VERSION = 1
SESSION_TTL = timedelta(hours=24)
MAX_REASKS = 1

REASK_HINT = say("session.reask", "en")
PAUSE_MESSAGE = say("session.paused", "en")
EXPIRED_MESSAGE = say("session.expired", "en")
ALL_SKIPPED_MESSAGE = say("session.all_skipped", "en")
"""The English texts (tests compare with them); ``say`` gives each in the caregiver's language."""


class Outcome(StrEnum):
    """What one inbound text did to the assessment."""

    NEXT = "next"
    REASKED = "reasked"
    PAUSED = "paused"
    FINISHED = "finished"
    EXPIRED = "expired"
    ALL_SKIPPED = "all_skipped"


class Status(StrEnum):
    ASKING = "asking"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Step:
    """The new state (None once finished, expired or all skipped) and what to send back.

    ``reply`` is None when the assessment finished (send ``scoring.result_message``) and when
    a paused assessment was sent something that is not an answer (let the conversation reply).

    ``answers`` holds the scored answers when the assessment finished, so the caller can keep
    them with the result; it is empty otherwise.
    """

    state: dict[str, Any] | None
    reply: str | None
    finished: Result | None
    outcome: Outcome
    answers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Session:
    instrument: Instrument
    position: int
    answers: dict[str, int]
    skipped: tuple[str, ...]
    misses: int
    status: Status
    started_at: datetime
    updated_at: datetime
    language: str = "en"

    def question(self) -> str:
        return format_question(self.instrument, self.position, self.language)

    def say(self, path: str) -> str:
        return say(path, self.language)


def start(instrument_key: str, now: datetime, language: str | None = "en") -> dict[str, Any]:
    """A fresh assessment of ``instrument_key`` in ``language``, about to ask its first item."""
    now = _aware_utc(now)
    if instrument_key not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument_key!r}")
    instrument = INSTRUMENTS[instrument_key]
    session = _Session(instrument, 0, {}, (), 0, Status.ASKING, now, now, language_code(language))
    return _dump(session)


def language_of(state: Mapping[str, Any]) -> str:
    """The language the assessment asks in."""
    return language_code(state.get("language"))


def current_question(state: Mapping[str, Any]) -> str:
    """The SMS asking the item the assessment is on."""
    return _load(state).question()


def expires_at(state: Mapping[str, Any]) -> datetime:
    """When the assessment expires if nothing more happens (UTC)."""
    return _load(state).updated_at + SESSION_TTL


def is_expired(state: Mapping[str, Any], now: datetime) -> bool:
    """True once a day has passed since the assessment's last activity."""
    return _aware_utc(now) >= expires_at(state)


def open_assessment_id(state: Mapping[str, Any] | None, now: datetime) -> str | None:
    """The id of the assessment the caregiver is answering (asking, not paused, not expired), or None."""
    if not state or state.get("status", Status.ASKING) != Status.ASKING or is_expired(state, now):
        return None
    return str(state["id"]) if state.get("id") else None


def resume(state: Mapping[str, Any], now: datetime, language: str | None = None) -> Step:
    """Pick a (paused) assessment up again: ask its current item once more (in ``language``
    when given: the caregiver's, which may have changed)."""
    now = _aware_utc(now)
    if is_expired(state, now):
        return _expired(language or language_of(state))
    session = replace(_load(state, language), status=Status.ASKING, misses=0, updated_at=now)
    return Step(_dump(session), session.question(), None, Outcome.NEXT)


def apply(state: Mapping[str, Any], text: str, now: datetime, language: str | None = None) -> Step:
    """Take the caregiver's ``text`` as the answer to the current item (``language``: the
    caregiver's now, when the message says; the next text is in it)."""
    now = _aware_utc(now)
    if is_expired(state, now):
        return _expired(language or language_of(state))
    loaded = _load(state, language)
    answer = parse_answer(text)
    if answer is None and loaded.status is Status.PAUSED:
        return Step(_dump(loaded), None, None, Outcome.PAUSED)
    session = replace(loaded, status=Status.ASKING, updated_at=now)
    if answer is None:
        return _miss(session)
    item_key = session.instrument.items[session.position].key
    if answer is SKIP:
        session = replace(session, skipped=(*session.skipped, item_key))
    else:
        session = replace(session, answers={**session.answers, item_key: answer})
    return _advance(replace(session, misses=0))


def _miss(session: _Session) -> Step:
    if session.misses >= MAX_REASKS:
        paused = replace(session, status=Status.PAUSED, misses=0)
        return Step(_dump(paused), session.say("session.paused"), None, Outcome.PAUSED)
    again = replace(session, misses=session.misses + 1)
    return Step(_dump(again), f"{session.say('session.reask')}\n{session.question()}", None, Outcome.REASKED)


def _advance(session: _Session) -> Step:
    position = session.position + 1
    if position < len(session.instrument.items):
        moved = replace(session, position=position)
        return Step(_dump(moved), moved.question(), None, Outcome.NEXT)
    if not session.answers:
        return Step(None, session.say("session.all_skipped"), None, Outcome.ALL_SKIPPED)
    result = score(session.instrument, session.answers)
    return Step(None, None, result, Outcome.FINISHED, dict(session.answers))


def _expired(language: str) -> Step:
    return Step(None, say("session.expired", language), None, Outcome.EXPIRED)


def _dump(session: _Session) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "instrument": session.instrument.key,
        "language": session.language,
        "position": session.position,
        "answers": dict(session.answers),
        "skipped": list(session.skipped),
        "misses": session.misses,
        "status": session.status.value,
        "started_at": session.started_at,
        "updated_at": session.updated_at,
    }


def _load(state: Mapping[str, Any], language: str | None = None) -> _Session:
    """The session ``state`` holds (``language``, when given, replaces its language)."""
    instrument = INSTRUMENTS[state["instrument"]]
    position = int(state["position"])
    if not 0 <= position < len(instrument.items):
        raise ValueError(f"position {position} is outside {instrument.key!r}")
    return _Session(
        instrument=instrument,
        position=position,
        answers={str(key): int(value) for key, value in state.get("answers", {}).items()},
        skipped=tuple(state.get("skipped", ())),
        misses=int(state.get("misses", 0)),
        status=Status(state.get("status", Status.ASKING)),
        started_at=_as_utc(state["started_at"]),
        updated_at=_as_utc(state["updated_at"]),
        language=language_code(language or state.get("language")),
    )


def _as_utc(value: datetime) -> datetime:
    """A stored datetime in UTC; MongoDB hands back naive UTC datetimes unless told otherwise."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware_utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)
