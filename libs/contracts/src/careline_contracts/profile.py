"""Events published by profile."""

from __future__ import annotations

from typing import ClassVar, Literal

from careline_contracts import subjects
from careline_contracts.base import Event

PromptPurpose = Literal[
    "question", "reask", "paused", "result", "expired", "retry", "nudge", "too_soon", "preference"
]


class PromptReady(Event):
    """Text profile wants the caregiver to get (an assessment question, a result); conversation sends it.

    ``assessment_open`` tells conversation whether the caregiver's next message answers
    assessment ``assessment_id`` (True) or the assessment is over (False). A ``result`` also
    carries the band and pressure zones it scored, so conversation can tell its agent without
    reading profile's data.
    """

    subject: ClassVar[str] = subjects.PROFILE_PROMPT_READY
    user_id: str
    assessment_id: str
    text: str
    purpose: PromptPurpose
    assessment_open: bool
    band: str | None = None
    """With a ``result``: the burnout band the assessment scored (conversation keeps it for the agent)."""
    pressure_zones: tuple[str, ...] = ()
    """With a ``result``: the pressure zones that drove the score, most pressing first."""


class CheckinDue(Event):
    """The scheduler's proactive check-in: its first question, sent unless the caregiver opted out."""

    subject: ClassVar[str] = subjects.PROFILE_CHECKIN_DUE
    user_id: str
    assessment_id: str
    text: str
