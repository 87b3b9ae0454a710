"""Profile's handlers."""

from __future__ import annotations

from dataclasses import dataclass

from careline_contracts.conversation import FactLearned, OptOutChanged
from careline_contracts.ingress import UserRegistered
from careline_platform.clock import Clock
from careline_platform.messaging import Delivery
from careline_platform.mongo import UnitOfWork
from careline_profile.repository import ProfileRepository


@dataclass
class Deps:
    uow: UnitOfWork
    repo: ProfileRepository
    clock: Clock


async def on_user_registered(event: UserRegistered, delivery: Delivery, deps: Deps) -> None:
    """Every new caregiver gets a profile, starting in the onboarding phase."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.create_profile(event.user_id, now, session)


async def on_fact_learned(event: FactLearned, delivery: Delivery, deps: Deps) -> None:
    """Store what the caregiver told the line about themselves."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.set_fields(event.user_id, {event.field: event.value}, now, session)


async def on_optout_changed(event: OptOutChanged, delivery: Delivery, deps: Deps) -> None:
    """Follow STOP and START: an opted-out caregiver gets no check-ins."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.set_fields(event.user_id, {"opted_out": event.opted_out}, now, session)
