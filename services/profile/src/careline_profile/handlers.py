"""Profile's handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from careline_contracts.conversation import (
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import UserRegistered
from careline_platform.clock import Clock
from careline_platform.jobs import JobStore
from careline_platform.messaging import Delivery
from careline_platform.mongo import UnitOfWork
from careline_profile.domain import journey
from careline_profile.domain.timezones import time_zone_for_zip
from careline_profile.repository import ProfileRepository


@dataclass
class Deps:
    uow: UnitOfWork
    repo: ProfileRepository
    clock: Clock
    jobs: JobStore
    wake_worker: Callable[[], None]


async def on_user_registered(event: UserRegistered, delivery: Delivery, deps: Deps) -> None:
    """Every new caregiver gets a profile, starting in the onboarding phase."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.create_profile(event.user_id, now, session)


async def on_fact_learned(event: FactLearned, delivery: Delivery, deps: Deps) -> None:
    """Store what the caregiver told the line about themselves."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        fields: dict[str, Any] = {event.field: event.value}
        if event.field == "zip":
            fields["time_zone"] = time_zone_for_zip(event.value)
        await deps.repo.set_fields(event.user_id, fields, now, session)


async def on_optout_changed(event: OptOutChanged, delivery: Delivery, deps: Deps) -> None:
    """Follow STOP and START: an opted-out caregiver gets no check-ins."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.set_fields(event.user_id, {"opted_out": event.opted_out}, now, session)


async def on_contact_recorded(event: ContactRecorded, delivery: Delivery, deps: Deps) -> None:
    """The caregiver wrote in: last contact moves forward, a churned caregiver is active again."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        profile = await deps.repo.get_or_create(event.user_id, now, session)
        last = profile.get("last_contact_at")
        fields: dict[str, Any] = {"reengagements_sent": []}
        if last is None or event.at > last:
            fields["last_contact_at"] = event.at
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="message", profile=profile, now=now
        )
        fields["journey_phase"] = str(phase)
        await deps.repo.set_fields(event.user_id, fields, now, session)


async def on_onboarding_completed(event: OnboardingCompleted, delivery: Delivery, deps: Deps) -> None:
    """Onboarding is over: the caregiver's journey becomes active."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        profile = await deps.repo.get_or_create(event.user_id, now, session)
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="onboarding_done", profile=profile, now=now
        )
        await deps.repo.set_fields(event.user_id, {"journey_phase": str(phase)}, now, session)


async def on_crisis_detected(event: CrisisDetected, delivery: Delivery, deps: Deps) -> None:
    """After a crisis the caregiver's journey is crisis support (check-ins daily for that band)."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        profile = await deps.repo.get_or_create(event.user_id, now, session)
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="crisis", profile=profile, now=now
        )
        await deps.repo.set_fields(
            event.user_id, {"journey_phase": str(phase), "last_crisis_at": event.occurred_at}, now, session
        )
