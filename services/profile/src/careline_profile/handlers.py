"""Profile's handlers: each one transaction on the unit of work, its rules in ``domain``."""

from __future__ import annotations

from typing import Any

from careline_contracts.conversation import (
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import UserRegistered
from careline_platform.uow import HasMsgId
from careline_profile.domain import journey
from careline_profile.domain.timezones import time_zone_for_zip
from careline_profile.repository import ProfileUow


async def on_user_registered(event: UserRegistered, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Every new caregiver gets a profile, starting in the onboarding phase."""
    async with uow.begin(delivery) as tx:
        await tx.repo.create_profile(event.user_id, tx.now)


async def on_fact_learned(event: FactLearned, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Store what the caregiver told the line about themselves."""
    async with uow.begin(delivery) as tx:
        fields: dict[str, Any] = {event.field: event.value}
        if event.field == "zip":
            fields["time_zone"] = time_zone_for_zip(event.value)
        await tx.repo.set_fields(event.user_id, fields, tx.now)


async def on_optout_changed(event: OptOutChanged, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Follow STOP and START: an opted-out caregiver gets no check-ins."""
    async with uow.begin(delivery) as tx:
        await tx.repo.set_fields(event.user_id, {"opted_out": event.opted_out}, tx.now)


async def on_contact_recorded(event: ContactRecorded, delivery: HasMsgId, uow: ProfileUow) -> None:
    """The caregiver wrote in: last contact moves forward, a churned caregiver is active again."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        last = profile.get("last_contact_at")
        fields: dict[str, Any] = {"reengagements_sent": []}
        if last is None or event.at > last:
            fields["last_contact_at"] = event.at
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="message", profile=profile, now=tx.now
        )
        fields["journey_phase"] = str(phase)
        await tx.repo.set_fields(event.user_id, fields, tx.now)


async def on_onboarding_completed(event: OnboardingCompleted, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Onboarding is over: the caregiver's journey becomes active."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="onboarding_done", profile=profile, now=tx.now
        )
        await tx.repo.set_fields(event.user_id, {"journey_phase": str(phase)}, tx.now)


async def on_crisis_detected(event: CrisisDetected, delivery: HasMsgId, uow: ProfileUow) -> None:
    """After a crisis the caregiver's journey is crisis support (check-ins daily for that band)."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="crisis", profile=profile, now=tx.now
        )
        fields = {"journey_phase": str(phase), "last_crisis_at": event.occurred_at}
        await tx.repo.set_fields(event.user_id, fields, tx.now)
