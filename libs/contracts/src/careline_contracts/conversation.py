"""Events published by conversation."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from careline_contracts import subjects
from careline_contracts.base import Event


class SandboxSmsSent(Event):
    """An outbound SMS delivered to the local sandbox instead of Twilio (no credentials)."""

    subject: ClassVar[str] = subjects.SANDBOX_SMS_SENT
    sid: str
    to: str
    body: str


class CrisisDetected(Event):
    """A caregiver's message signalled danger; the fixed crisis reply went out and an alert is open.

    Carries the category and the tier (``explicit``, or ``indirect`` when the line asked a caring
    question instead), never the message text.
    """

    subject: ClassVar[str] = subjects.CONVERSATION_CRISIS_DETECTED
    user_id: str
    message_sid: str
    category: str
    tier: Literal["explicit", "indirect"] = "explicit"


class FactLearned(Event):
    """The caregiver told the line a profile fact (onboarding or the agent); profile stores it.

    ``condition`` (the care recipient's main condition, as the caregiver wrote it, lightly
    normalised) was added to ``field`` later: v1 events with the first three stay valid.
    """

    subject: ClassVar[str] = subjects.CONVERSATION_FACT_LEARNED
    user_id: str
    field: Literal["first_name", "relationship", "zip", "condition", "language"]
    value: str
    """For ``language``: "en" or "es", the language the line now writes to the caregiver in."""


class OptOutChanged(Event):
    """The caregiver texted STOP (opted out) or START (back in); profile's check-ins follow it."""

    subject: ClassVar[str] = subjects.CONVERSATION_OPTOUT_CHANGED
    user_id: str
    opted_out: bool


class CheckoutRequested(Event):
    """A caregiver who is not entitled wrote in, or asked for a link (BILLING, ANNUAL).

    Billing answers a caregiver without access with a checkout link. ``asked`` (added later,
    like ``plan``; defaults keep v1 events valid): the caregiver asked, so one with a Stripe
    customer gets the billing portal and one without gets a checkout link, access or not.
    ``plan`` is the price a checkout link is for (ANNUAL: the annual one).
    """

    subject: ClassVar[str] = subjects.CONVERSATION_CHECKOUT_REQUESTED
    user_id: str
    asked: bool = False
    plan: Literal["monthly", "annual"] = "monthly"


class AssessmentRequested(Event):
    """The caregiver asked to check in (by keyword or through the agent); profile runs it."""

    subject: ClassVar[str] = subjects.CONVERSATION_ASSESSMENT_REQUESTED
    user_id: str
    instrument: Literal["checkin", "burnout"]
    language: Literal["en", "es"] | None = None
    """The language to ask in (the caregiver's, as conversation knows it); None: profile's record."""


class AssessmentAnswered(Event):
    """The caregiver's reply while an assessment is open; profile parses and scores it."""

    subject: ClassVar[str] = subjects.CONVERSATION_ASSESSMENT_ANSWERED
    user_id: str
    assessment_id: str
    text: str
    language: Literal["en", "es"] | None = None
    """The caregiver's language now (a switch mid-assessment changes the next question's)."""


class ContactRecorded(Event):
    """The caregiver wrote in (published at most hourly); profile's check-in schedule uses it."""

    subject: ClassVar[str] = subjects.CONVERSATION_CONTACT_RECORDED
    user_id: str
    at: datetime


class OnboardingCompleted(Event):
    """The last onboarding question was answered or skipped; the caregiver's journey moves on."""

    subject: ClassVar[str] = subjects.CONVERSATION_ONBOARDING_COMPLETED
    user_id: str


class CheckinPreferenceChanged(Event):
    """The caregiver changed how often or when check-ins come; profile's schedule follows it.

    ``change`` is what they asked for: ``daily`` / ``weekly`` (DAILY, WEEKLY), ``pause`` (PAUSE:
    none for 7 days), ``resume`` (RESUME: back to the schedule before a pause or a "less"),
    ``less`` ("text me less": one step down, daily -> every 3 days -> weekly -> off) or ``time``
    (a time of day, ``hour``:``minute`` on the caregiver's own clock). Profile decides the new
    schedule (it knows the band) and confirms it to the caregiver in ``language``.
    """

    subject: ClassVar[str] = subjects.CONVERSATION_CHECKIN_PREFERENCE_CHANGED
    user_id: str
    change: Literal["daily", "weekly", "pause", "resume", "less", "time"]
    hour: int | None = Field(default=None, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    language: Literal["en", "es"] = "en"


class LossReported(Event):
    """The caregiver said the person they cared for has died; caregiving check-ins stop.

    Carries no words of the message: only that it was said, and in which message.
    """

    subject: ClassVar[str] = subjects.CONVERSATION_LOSS_REPORTED
    user_id: str
    message_sid: str
