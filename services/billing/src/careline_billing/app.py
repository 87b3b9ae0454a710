"""Composition root of the billing service."""

from __future__ import annotations

from datetime import timedelta

from careline_billing import backfill, handlers
from careline_billing.integrations.stripe_gateway import BillingGateway, SandboxGateway, StripeGateway
from careline_billing.repository import BillingRepository
from careline_contracts import subjects
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_contracts.migration import UsersImported
from careline_platform.admin import CaregiverSlice
from careline_platform.clock import Clock
from careline_platform.jobs import JobType, RetryPolicy
from careline_platform.messaging import ConsumerSpec
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings

NAME = "billing"


def build_gateway(settings: Settings) -> BillingGateway:
    """Stripe when a key and a price are configured; the local checkout simulator otherwise."""
    if settings.stripe_api_key is None or not settings.stripe_price_id:
        return SandboxGateway(settings.public_base_url)
    return StripeGateway(
        settings.stripe_api_key.get_secret_value(),
        settings.stripe_price_id,
        success_url=f"{settings.public_base_url.rstrip('/')}/checkout/done",
        api_base=settings.stripe_api_base,
    )


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    repo = BillingRepository(infra.db)
    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.BILLING,),
        on_start=[repo.ensure_indexes],
        rollup=repo.daily_metrics,
        caregiver=CaregiverSlice(repo.read_caregiver, repo.erase_caregiver),
    )
    runtime = ServiceRuntime(infra, definition)
    deps = handlers.Deps(
        uow=infra.uow,
        repo=repo,
        clock=infra.clock,
        trial_days=settings.trial_days,
        jobs=infra.jobs,
        wake_worker=runtime.wake_worker,
        gateway=build_gateway(settings),
        past_due_grace=timedelta(days=settings.past_due_grace_days),
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
        ConsumerSpec(
            NAME,
            subjects.CONVERSATION,
            subjects.CONVERSATION_CHECKOUT_REQUESTED,
            "billing-checkout-requests",
            CheckoutRequested,
            lambda e, d: handlers.on_checkout_requested(e, d, deps),
        ),
        ConsumerSpec(  # backfill batches span caregivers: one durable, not partitioned
            NAME,
            subjects.USERS,
            subjects.USER_IMPORTED,
            "billing-backfill",
            UsersImported,
            lambda e, d: backfill.on_users_imported(e, d, deps),
            partitioned=False,
            ack_wait_s=30.0,
        ),
    ]
    definition.job_types[handlers.END_GRACE] = JobType(
        lambda job: handlers.end_grace(job, deps), RetryPolicy(max_attempts=20, cap_s=300)
    )
    definition.job_types[handlers.END_TRIAL] = JobType(
        lambda job: handlers.end_trial(job, deps), RetryPolicy(max_attempts=20, cap_s=300)
    )
    definition.job_types[handlers.SYNC_SUBSCRIPTION] = JobType(
        lambda job: handlers.sync_subscription(job, deps), RetryPolicy(max_attempts=8)
    )
    definition.job_types[handlers.CREATE_CHECKOUT] = JobType(
        lambda job: handlers.create_checkout(job, deps), RetryPolicy(max_attempts=6)
    )
    return runtime
