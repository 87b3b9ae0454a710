"""Profile's handlers: each one transaction on the unit of work, its rules in ``domain``."""

from __future__ import annotations

from datetime import time
from typing import Any

from careline_contracts.conversation import (
    CheckinPreferenceChanged,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    LossReported,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import UserRegistered
from careline_contracts.profile import PromptReady
from careline_platform.uow import HasMsgId
from careline_profile.domain import checkin_texts, due, journey, preferences, session
from careline_profile.domain.timezones import time_zone_for_zip
from careline_profile.repository import ProfileUow


async def on_user_registered(event: UserRegistered, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Every new caregiver gets a profile, starting in the onboarding phase."""
    async with uow.begin(delivery) as tx:
        await tx.repo.create_profile(event.user_id, tx.now)


async def on_fact_learned(event: FactLearned, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Store what the caregiver told the line about themselves (a ZIP moves their send window)."""
    async with uow.begin(delivery) as tx:
        fields: dict[str, Any] = {event.field: event.value}
        if event.field == "zip":
            fields["time_zone"] = time_zone_for_zip(event.value)
            profile = await tx.repo.get_or_create(event.user_id, tx.now)
            fields = due.with_next_due(profile, fields, tx.now)
        await tx.repo.set_fields(event.user_id, fields, tx.now)


async def on_optout_changed(event: OptOutChanged, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Follow STOP and START: an opted-out caregiver gets no check-ins (and the scan never reads them)."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        fields = due.with_next_due(profile, {"opted_out": event.opted_out}, tx.now)
        await tx.repo.set_fields(event.user_id, fields, tx.now)


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
        await tx.repo.set_fields(event.user_id, due.with_next_due(profile, fields, tx.now), tx.now)


async def on_onboarding_completed(event: OnboardingCompleted, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Onboarding is over: the caregiver's journey becomes active."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="onboarding_done", profile=profile, now=tx.now
        )
        fields = due.with_next_due(profile, {"journey_phase": str(phase)}, tx.now)
        await tx.repo.set_fields(event.user_id, fields, tx.now)


async def on_crisis_detected(event: CrisisDetected, delivery: HasMsgId, uow: ProfileUow) -> None:
    """After a crisis the caregiver's journey is crisis support (check-ins daily for that band)."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        phase = journey.next_phase(
            profile.get("journey_phase") or "onboarding", event="crisis", profile=profile, now=tx.now
        )
        fields = {"journey_phase": str(phase), "last_crisis_at": event.occurred_at}
        await tx.repo.set_fields(event.user_id, due.with_next_due(profile, fields, tx.now), tx.now)


async def on_checkin_preference_changed(
    event: CheckinPreferenceChanged, delivery: HasMsgId, uow: ProfileUow
) -> None:
    """DAILY, WEEKLY, PAUSE, RESUME, "text me less" or a time of day: the schedule follows, and
    the caregiver is told what changed (and how to undo it) in their language.

    Asking for check-ins again (DAILY, WEEKLY, RESUME) after a loss was reported starts them again.
    """
    user = event.user_id
    async with uow.begin(delivery) as tx:
        now = tx.now
        profile = await tx.repo.get_or_create(user, now)
        at = None if event.hour is None else time(event.hour, event.minute)
        outcome = preferences.apply(
            preferences.of(profile), event.change, band=profile.get("burnout_band"), now=now, at=at
        )
        fields: dict[str, Any] = {"checkins": outcome.preference.to_doc()}
        if event.change in ("daily", "weekly", "resume") and profile.get("bereaved_at") is not None:
            fields["bereaved_at"] = None
            current = profile.get("journey_phase") or "onboarding"
            phase = journey.next_phase(current, event="checkins_resumed", profile=profile, now=now)
            fields["journey_phase"] = str(phase)
        await tx.repo.set_fields(user, due.with_next_due(profile, fields, now), now)
        text = checkin_texts.render(
            outcome.text, event.language, outcome.values, time_zone=profile.get("time_zone"), now=now
        )
        open_id = session.open_assessment_id(profile.get("assessment_in_progress"), now)
        confirm = PromptReady(
            occurred_at=now,
            correlation_id=event.correlation_id,
            user_id=user,
            assessment_id=open_id or "",
            text=text,
            purpose="preference",
            assessment_open=open_id is not None,  # an assessment being answered stays open
        )
        await tx.emit(confirm, key=user, msg_id=f"prompt:{delivery.msg_id}")


async def on_loss_reported(event: LossReported, delivery: HasMsgId, uow: ProfileUow) -> None:
    """The person cared for died: caregiving check-ins and nudges stop, the journey is bereavement,
    and a half-done assessment is dropped (conversation already offered grief support)."""
    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(event.user_id, tx.now)
        current = profile.get("journey_phase") or "onboarding"
        phase = journey.next_phase(current, event="loss", profile=profile, now=tx.now)
        fields = {
            "bereaved_at": profile.get("bereaved_at") or event.occurred_at,
            "journey_phase": str(phase),
            "assessment_in_progress": None,
        }
        await tx.repo.set_fields(event.user_id, due.with_next_due(profile, fields, tx.now), tx.now)
