"""Composition root of the billing service."""

from __future__ import annotations

from datetime import timedelta

from careline_billing import handlers, repository
from careline_billing.domain.access import Terms
from careline_billing.integrations.stripe_gateway import (
    BillingGateway,
    Plan,
    SandboxGateway,
    StripeGateway,
)
from careline_billing.repository import MongoBillingReader, MongoBillingWriter
from careline_billing.subscribers import NAME, job_types, subscribers
from careline_contracts import subjects
from careline_platform.admin import CaregiverSlice
from careline_platform.clock import Clock
from careline_platform.production import ConfigurationError
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings

__all__ = ["NAME", "build_gateway", "create_service"]


def build_gateway(settings: Settings) -> BillingGateway:
    """Stripe when configured; the local checkout simulator only with no Stripe credential at all
    (a key without its price, or a webhook secret alone, fails at start, not quietly here)."""
    if settings.stripe_sandbox:
        return SandboxGateway(settings.public_base_url)
    if settings.stripe_api_key is None or not settings.monthly_price_id:
        raise ConfigurationError(
            "STRIPE_API_KEY and STRIPE_PRICE_ID (or STRIPE_PRICE_ID_MONTHLY) must be set together "
            "(or no Stripe setting at all, for the local checkout sandbox)"
        )
    prices: dict[Plan, str] = {"monthly": settings.monthly_price_id}
    if settings.stripe_price_id_annual:  # production requires it; elsewhere ANNUAL fails its job
        prices["annual"] = settings.stripe_price_id_annual
    return StripeGateway(
        settings.stripe_api_key.get_secret_value(),
        prices,
        success_url=f"{settings.public_base_url.rstrip('/')}/checkout/done",
        api_base=settings.stripe_api_base,
    )


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    uow = infra.unit_of_work(subjects.BILLING, writer=MongoBillingWriter, reader=MongoBillingReader)
    terms = Terms(
        trial=timedelta(days=settings.trial_days),
        grace=timedelta(days=settings.past_due_grace_days),
        after_cancel=timedelta(days=settings.canceled_grace_days),
    )

    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.BILLING,),
        on_start=[lambda: repository.ensure_indexes(infra.db)],
        rollup=uow.read().daily_metrics,
        caregiver=CaregiverSlice.of(uow, after=handlers.owe_subscription_cancel),
        consumers=subscribers(uow, terms),
        job_types=job_types(uow, terms, build_gateway(settings), infra.jobs),
    )
    return ServiceRuntime(infra, definition)
