"""What profile listens to: each subject, its durable consumer, its body, its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    CheckinPreferenceChanged,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    LossReported,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import UserRegistered
from careline_contracts.migration import UsersImported
from careline_platform.messaging import ConsumerSpec, Delivery
from careline_profile import assessments, backfill, handlers
from careline_profile.repository import ProfileUow

NAME = "profile"
Handler = Callable[[Any, Delivery, ProfileUow], Awaitable[None]]


def subscribers(uow: ProfileUow) -> list[ConsumerSpec]:
    def on(
        stream: subjects.Stream, subject: str, durable: str, body: type[Event], handler: Handler
    ) -> ConsumerSpec:
        return ConsumerSpec(NAME, stream, subject, durable, body, lambda e, d: handler(e, d, uow))

    return [
        on(subjects.USERS, subjects.USER_REGISTERED, "profile-user-registered", UserRegistered,
           handlers.on_user_registered),
        on(subjects.CONVERSATION, subjects.CONVERSATION_FACT_LEARNED, "profile-facts", FactLearned,
           handlers.on_fact_learned),
        on(subjects.CONVERSATION, subjects.CONVERSATION_OPTOUT_CHANGED, "profile-optout", OptOutChanged,
           handlers.on_optout_changed),
        on(subjects.CONVERSATION, subjects.CONVERSATION_CONTACT_RECORDED, "profile-contact", ContactRecorded,
           handlers.on_contact_recorded),
        on(subjects.CONVERSATION, subjects.CONVERSATION_ONBOARDING_COMPLETED, "profile-onboarding",
           OnboardingCompleted, handlers.on_onboarding_completed),
        on(subjects.CONVERSATION, subjects.CONVERSATION_CRISIS_DETECTED, "profile-crisis", CrisisDetected,
           handlers.on_crisis_detected),
        on(subjects.CONVERSATION, subjects.CONVERSATION_ASSESSMENT_REQUESTED, "profile-assessment-requests",
           AssessmentRequested, assessments.on_assessment_requested),
        on(subjects.CONVERSATION, subjects.CONVERSATION_ASSESSMENT_ANSWERED, "profile-assessment-answers",
           AssessmentAnswered, assessments.on_assessment_answered),
        on(subjects.CONVERSATION, subjects.CONVERSATION_CHECKIN_PREFERENCE_CHANGED,
           "profile-checkin-preferences", CheckinPreferenceChanged, handlers.on_checkin_preference_changed),
        on(subjects.CONVERSATION, subjects.CONVERSATION_LOSS_REPORTED, "profile-loss", LossReported,
           handlers.on_loss_reported),
        # a backfill batch spans caregivers (see backfill.py): one consumer, a longer ack wait
        replace(
            on(subjects.USERS, subjects.USER_IMPORTED, "profile-backfill", UsersImported,
               backfill.on_users_imported),
            partitioned=False,
            ack_wait_s=30.0,
        ),
    ]  # fmt: skip
