"""Composition root of the billing service."""

from __future__ import annotations

from careline_billing import handlers
from careline_billing.repository import BillingRepository
from careline_contracts import subjects
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_platform.clock import Clock
from careline_platform.messaging import ConsumerSpec
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings

NAME = "billing"


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    repo = BillingRepository(infra.db)
    definition = ServiceDefinition(
        name=NAME, owned_streams=(subjects.BILLING,), on_start=[repo.ensure_indexes]
    )
    runtime = ServiceRuntime(infra, definition)
    deps = handlers.Deps(
        uow=infra.uow,
        repo=repo,
        clock=infra.clock,
        trial_days=settings.trial_days,
        jobs=infra.jobs,
        wake_worker=runtime.wake_worker,
    )
    definition.consumers = [
        ConsumerSpec(
            NAME,
            subjects.USERS,
            subjects.USER_REGISTERED,
            "billing-user-registered",
            UserRegistered,
            lambda e, d: handlers.on_user_registered(e, d, deps),
        ),
        ConsumerSpec(
            NAME,
            subjects.STRIPE,
            subjects.STRIPE_EVENT_RECEIVED,
            "billing-stripe",
            StripeEventReceived,
            lambda e, d: handlers.on_stripe_event(e, d, deps),
        ),
    ]
    return runtime
