"""What conversation listens to and runs: each subject with its durable consumer, body and
handler; each job type with its handler and retry policy; staff's admin operations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.billing import BillingNoticeReady, CheckoutLinkReady, EntitlementChanged
from careline_contracts.ingress import SmsReceived, SmsStatusUpdated
from careline_contracts.jobs import (
    CrisisAlertJob,
    CrisisEscalationJob,
    CrisisFollowUpJob,
    CrisisPageJob,
    EmbedMessageJob,
    SendSmsJob,
    SummaryRefreshJob,
)
from careline_contracts.migration import BillingBackfillApplied, UsersImported
from careline_contracts.profile import CheckinDue, PromptReady
from careline_conversation import backfill, handlers, paging, remembering, sending
from careline_conversation.domain.alerts import PagingPolicy
from careline_conversation.handlers import Services
from careline_conversation.repository import ConversationUow
from careline_platform.jobs import JobType, RetryPolicy
from careline_platform.messaging import ConsumerSpec, Delivery

NAME = "conversation"
Handler = Callable[[Any, Delivery], Awaitable[None]]
# a crisis job must not give up: 20 attempts, at most a minute apart, then a dead letter
CRISIS_RETRY = RetryPolicy(max_attempts=20, cap_s=60)


def subscribers(uow: ConversationUow, services: Services) -> list[ConsumerSpec]:
    def on(
        stream: subjects.Stream, subject: str, durable: str, body: type[Event], handler: Handler
    ) -> ConsumerSpec:
        return ConsumerSpec(NAME, stream, subject, durable, body, handler)

    return [
        on(subjects.SMS, subjects.SMS_INBOUND_RECEIVED, "conversation-sms-inbound", SmsReceived,
           lambda e, d: handlers.on_sms_received(e, d, uow, services)),
        on(subjects.SMS, subjects.SMS_STATUS_UPDATED, "conversation-sms-status", SmsStatusUpdated,
           lambda e, d: handlers.on_sms_status(e, d, uow)),
        on(subjects.BILLING, subjects.BILLING_ENTITLEMENT_CHANGED, "conversation-entitlement",
           EntitlementChanged, lambda e, d: handlers.on_entitlement_changed(e, d, uow)),
        on(subjects.BILLING, subjects.BILLING_CHECKOUT_LINK_READY, "conversation-checkout-link",
           CheckoutLinkReady, lambda e, d: handlers.on_checkout_link_ready(e, d, uow)),
        on(subjects.BILLING, subjects.BILLING_NOTICE_READY, "conversation-billing-notice",
           BillingNoticeReady, lambda e, d: handlers.on_billing_notice_ready(e, d, uow)),
        on(subjects.PROFILE, subjects.PROFILE_PROMPT_READY, "conversation-profile-prompts", PromptReady,
           lambda e, d: handlers.on_prompt_ready(e, d, uow)),
        on(subjects.PROFILE, subjects.PROFILE_CHECKIN_DUE, "conversation-checkins", CheckinDue,
           lambda e, d: handlers.on_checkin_due(e, d, uow)),
        # backfill batches span caregivers: one durable each, not partitioned, a longer ack wait
        replace(
            on(subjects.USERS, subjects.USER_IMPORTED, "conversation-backfill", UsersImported,
               lambda e, d: backfill.on_users_imported(e, d, uow)),
            partitioned=False,
            ack_wait_s=30.0,
        ),
        replace(
            on(subjects.BILLING, subjects.BILLING_BACKFILL_APPLIED, "conversation-backfill-entitlements",
               BillingBackfillApplied, lambda e, d: backfill.on_billing_backfill_applied(e, d, uow)),
            partitioned=False,
            ack_wait_s=30.0,
        ),
    ]  # fmt: skip


def job_types(uow: ConversationUow, services: Services, policy: PagingPolicy) -> dict[str, JobType]:
    return {
        SendSmsJob.job_type(): JobType(
            lambda job: sending.send_sms(job, uow, services), RetryPolicy(max_attempts=6)
        ),
        SummaryRefreshJob.job_type(): JobType(
            lambda job: sending.refresh_summary(job, uow, services), RetryPolicy(max_attempts=3)
        ),
        EmbedMessageJob.job_type(): JobType(
            lambda job: remembering.embed_message(job, uow, services.recall),
            RetryPolicy(max_attempts=4, cap_s=600),
        ),
        CrisisFollowUpJob.job_type(): JobType(
            lambda job: sending.send_follow_up(job, uow), RetryPolicy(max_attempts=20, cap_s=300)
        ),
        CrisisAlertJob.job_type(): JobType(
            lambda job: paging.raise_crisis_alert(job, uow, policy), CRISIS_RETRY
        ),
        CrisisPageJob.job_type(): JobType(lambda job: paging.page_again(job, uow, policy), CRISIS_RETRY),
        CrisisEscalationJob.job_type(): JobType(lambda job: paging.escalate(job, uow, policy), CRISIS_RETRY),
    }
