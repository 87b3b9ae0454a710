"""Composition root of the profile service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import UserRegistered
from careline_contracts.migration import UsersImported
from careline_platform.admin import CaregiverSlice
from careline_platform.clock import Clock
from careline_platform.jobs import JobType, Periodic, RetryPolicy
from careline_platform.messaging import ConsumerSpec, Delivery
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings
from careline_profile import assessments, backfill, handlers
from careline_profile.repository import ProfileRepository

NAME = "profile"


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    repo = ProfileRepository(infra.db)
    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.PROFILE,),
        on_start=[repo.ensure_indexes],
        rollup=repo.daily_metrics,
        caregiver=CaregiverSlice(repo.read_caregiver, repo.erase_caregiver),
        periodic=[Periodic(assessments.CHECKIN_SCAN, timedelta(seconds=settings.checkin_scan_s))],
    )
    runtime = ServiceRuntime(infra, definition)
    deps = handlers.Deps(
        uow=infra.uow, repo=repo, clock=infra.clock, jobs=infra.jobs, wake_worker=runtime.wake_worker
    )

    def consumer(
        stream: subjects.Stream,
        subject: str,
        durable: str,
        model: type[Event],
        handler: Callable[[Any, Delivery, handlers.Deps], Awaitable[None]],
    ) -> ConsumerSpec:
        spec = ConsumerSpec(NAME, stream, subject, durable, model, lambda e, d: handler(e, d, deps))
        if subject == subjects.USER_IMPORTED:  # backfill batches span caregivers (see backfill.py)
            spec = replace(spec, partitioned=False, ack_wait_s=30.0)
        return spec

    definition.consumers = [
        consumer(
            subjects.USERS,
            subjects.USER_REGISTERED,
            "profile-user-registered",
            UserRegistered,
            handlers.on_user_registered,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_FACT_LEARNED,
            "profile-facts",
            FactLearned,
            handlers.on_fact_learned,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_OPTOUT_CHANGED,
            "profile-optout",
            OptOutChanged,
            handlers.on_optout_changed,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_CONTACT_RECORDED,
            "profile-contact",
            ContactRecorded,
            handlers.on_contact_recorded,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_ONBOARDING_COMPLETED,
            "profile-onboarding",
            OnboardingCompleted,
            handlers.on_onboarding_completed,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_CRISIS_DETECTED,
            "profile-crisis",
            CrisisDetected,
            handlers.on_crisis_detected,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_ASSESSMENT_REQUESTED,
            "profile-assessment-requests",
            AssessmentRequested,
            assessments.on_assessment_requested,
        ),
        consumer(
            subjects.CONVERSATION,
            subjects.CONVERSATION_ASSESSMENT_ANSWERED,
            "profile-assessment-answers",
            AssessmentAnswered,
            assessments.on_assessment_answered,
        ),
        consumer(
            subjects.USERS,
            subjects.USER_IMPORTED,
            "profile-backfill",
            UsersImported,
            backfill.on_users_imported,
        ),
    ]
    definition.job_types[assessments.CHECKIN_SCAN] = JobType(
        lambda job: assessments.scan_checkins(job, deps), RetryPolicy(max_attempts=3)
    )
    return runtime
