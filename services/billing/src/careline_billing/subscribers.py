"""What billing listens to and the jobs it runs: each subject, its durable consumer, its body,
its handler; each job type, its payload model, its handler and its retry policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from careline_billing import backfill, handlers, notices
from careline_billing.domain.access import Terms
from careline_billing.handlers import ProgressLog
from careline_billing.integrations.stripe_gateway import BillingGateway
from careline_billing.repository import BillingUow
from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_contracts.jobs import (
    CanceledAccessEndJob,
    CheckoutCreateJob,
    GraceEndJob,
    PortalNoticeJob,
    SubscriptionCancelJob,
    SubscriptionSyncJob,
    TrialEndJob,
    TrialWarningJob,
)
from careline_contracts.migration import UsersImported
from careline_platform.jobs import Job, JobType, RetryPolicy
from careline_platform.messaging import ConsumerSpec, Delivery

NAME = "billing"
Handler = Callable[[Any, Delivery], Awaitable[None]]


def subscribers(uow: BillingUow, terms: Terms) -> list[ConsumerSpec]:
    def on(
        stream: subjects.Stream, subject: str, durable: str, body: type[Event], handler: Handler
    ) -> ConsumerSpec:
        return ConsumerSpec(NAME, stream, subject, durable, body, handler)

    return [
        on(subjects.USERS, subjects.USER_REGISTERED, "billing-user-registered", UserRegistered,
           lambda e, d: handlers.on_user_registered(e, d, uow, terms=terms)),
        on(subjects.STRIPE, subjects.STRIPE_EVENT_RECEIVED, "billing-stripe", StripeEventReceived,
           lambda e, d: handlers.on_stripe_event(e, d, uow, terms=terms)),
        on(subjects.CONVERSATION, subjects.CONVERSATION_CHECKOUT_REQUESTED, "billing-checkout-requests",
           CheckoutRequested, lambda e, d: handlers.on_checkout_requested(e, d, uow, terms=terms)),
        # a backfill batch spans caregivers (see backfill.py): one consumer, a longer ack wait
        replace(
            on(subjects.USERS, subjects.USER_IMPORTED, "billing-backfill", UsersImported,
               lambda e, d: backfill.on_users_imported(e, d, uow, terms=terms)),
            partitioned=False,
            ack_wait_s=30.0,
        ),
    ]  # fmt: skip


def job_types(
    uow: BillingUow, terms: Terms, gateway: BillingGateway, progress: ProgressLog
) -> dict[str, JobType]:
    def run(handler: Callable[[Job], Awaitable[dict[str, Any]]], policy: RetryPolicy) -> JobType:
        return JobType(handler, policy)

    return {
        GraceEndJob.JOB_TYPE: run(lambda job: handlers.end_grace(job, uow),
                                  RetryPolicy(max_attempts=20, cap_s=300)),
        TrialEndJob.JOB_TYPE: run(lambda job: handlers.end_trial(job, uow),
                                  RetryPolicy(max_attempts=20, cap_s=300)),
        TrialWarningJob.JOB_TYPE: run(lambda job: notices.warn_trial(job, uow),
                                      RetryPolicy(max_attempts=20, cap_s=300)),
        CanceledAccessEndJob.JOB_TYPE: run(lambda job: handlers.end_canceled_access(job, uow),
                                           RetryPolicy(max_attempts=20, cap_s=300)),
        PortalNoticeJob.JOB_TYPE: run(
            lambda job: notices.send_portal_notice(job, uow, gateway=gateway),
            RetryPolicy(max_attempts=6)),
        SubscriptionSyncJob.JOB_TYPE: run(
            lambda job: handlers.sync_subscription(job, uow, gateway=gateway, terms=terms),
            RetryPolicy(max_attempts=8)),
        CheckoutCreateJob.JOB_TYPE: run(
            lambda job: handlers.create_checkout(job, uow, gateway=gateway, progress=progress),
            RetryPolicy(max_attempts=6)),
        SubscriptionCancelJob.JOB_TYPE: run(
            lambda job: handlers.cancel_subscription(job, gateway=gateway),
            RetryPolicy(max_attempts=20, cap_s=600)),
    }  # fmt: skip
