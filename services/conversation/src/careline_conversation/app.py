"""Composition root of the conversation service."""

from __future__ import annotations

from datetime import timedelta

from careline_contracts import subjects
from careline_contracts.billing import CheckoutLinkReady, EntitlementChanged
from careline_contracts.ingress import SmsReceived, SmsStatusUpdated
from careline_contracts.migration import BillingBackfillApplied, UsersImported
from careline_contracts.profile import CheckinDue, PromptReady
from careline_conversation import alert_admin, backfill, handlers, paging
from careline_conversation.agents import Agent, FallbackAgent, OpenAIAgent, RulesAgent
from careline_conversation.alerts_repository import AlertsRepository
from careline_conversation.domain.alerts import PagingPolicy
from careline_conversation.domain.ratelimit import RateLimits
from careline_conversation.integrations.sms import SandboxSender, SmsSender, TwilioSender
from careline_conversation.repository import ConversationRepository
from careline_platform.admin import CaregiverSlice
from careline_platform.clock import Clock
from careline_platform.jobs import JobType, RetryPolicy
from careline_platform.messaging import ConsumerSpec, Publisher
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings

NAME = "conversation"


def build_sender(settings: Settings, publisher: Publisher) -> SmsSender:
    """Twilio when an account is configured, else the local sandbox."""
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return TwilioSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number,
            settings.twilio_api_base_url,
            settings.twilio_timeout_s,
        )
    return SandboxSender(publisher)


def build_agent(settings: Settings) -> Agent:
    """OpenAI with the rules agent behind it when a key is configured; the rules agent otherwise."""
    if settings.openai_api_key is None:
        return RulesAgent()
    openai_agent = OpenAIAgent(
        settings.openai_api_key.get_secret_value(),
        settings.openai_model,
        base_url=settings.openai_base_url,
        timeout_s=settings.openai_timeout_s,
    )
    return FallbackAgent(openai_agent, RulesAgent())


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    repo = ConversationRepository(infra.db)
    alerts = AlertsRepository(infra.db)
    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.CONVERSATION, subjects.SANDBOX),
        on_start=[repo.ensure_indexes, alerts.ensure_indexes],
        rollup=repo.daily_metrics,
        caregiver=CaregiverSlice(repo.read_caregiver, repo.erase_caregiver),
    )
    runtime = ServiceRuntime(infra, definition)
    sender = build_sender(settings, infra.publisher)
    if isinstance(sender, TwilioSender):
        definition.on_stop.append(sender.close)
    deps = handlers.Deps(
        uow=infra.uow,
        repo=repo,
        jobs=infra.jobs,
        clock=infra.clock,
        sender=sender,
        wake_worker=runtime.wake_worker,
        agent=build_agent(settings),
        limits=RateLimits(
            per_window=settings.rate_window_limit,
            window=timedelta(seconds=settings.rate_window_s),
            per_day=settings.rate_daily_limit,
        ),
        summary_every=settings.summary_every,
    )
    definition.consumers = [
        ConsumerSpec(
            NAME,
            subjects.SMS,
            subjects.SMS_INBOUND_RECEIVED,
            "conversation-sms-inbound",
            SmsReceived,
            lambda e, d: handlers.on_sms_received(e, d, deps),
        ),
        ConsumerSpec(
            NAME,
            subjects.SMS,
            subjects.SMS_STATUS_UPDATED,
            "conversation-sms-status",
            SmsStatusUpdated,
            lambda e, d: handlers.on_sms_status(e, d, deps),
        ),
        ConsumerSpec(
            NAME,
            subjects.BILLING,
            subjects.BILLING_ENTITLEMENT_CHANGED,
            "conversation-entitlement",
            EntitlementChanged,
            lambda e, d: handlers.on_entitlement_changed(e, d, deps),
        ),
        ConsumerSpec(
            NAME,
            subjects.BILLING,
            subjects.BILLING_CHECKOUT_LINK_READY,
            "conversation-checkout-link",
            CheckoutLinkReady,
            lambda e, d: handlers.on_checkout_link_ready(e, d, deps),
        ),
        ConsumerSpec(
            NAME,
            subjects.PROFILE,
            subjects.PROFILE_PROMPT_READY,
            "conversation-profile-prompts",
            PromptReady,
            lambda e, d: handlers.on_prompt_ready(e, d, deps),
        ),
        ConsumerSpec(
            NAME,
            subjects.PROFILE,
            subjects.PROFILE_CHECKIN_DUE,
            "conversation-checkins",
            CheckinDue,
            lambda e, d: handlers.on_checkin_due(e, d, deps),
        ),
        ConsumerSpec(  # backfill batches span caregivers: one durable, not partitioned
            NAME,
            subjects.USERS,
            subjects.USER_IMPORTED,
            "conversation-backfill",
            UsersImported,
            lambda e, d: backfill.on_users_imported(e, d, deps),
            partitioned=False,
            ack_wait_s=30.0,
        ),
        ConsumerSpec(
            NAME,
            subjects.BILLING,
            subjects.BILLING_BACKFILL_APPLIED,
            "conversation-backfill-entitlements",
            BillingBackfillApplied,
            lambda e, d: backfill.on_billing_backfill_applied(e, d, deps),
            partitioned=False,
            ack_wait_s=30.0,
        ),
    ]
    definition.job_types[handlers.SEND_SMS] = JobType(
        lambda job: handlers.send_sms(job, deps), RetryPolicy(max_attempts=6)
    )
    definition.job_types[handlers.REFRESH_SUMMARY] = JobType(
        lambda job: handlers.refresh_summary(job, deps), RetryPolicy(max_attempts=3)
    )
    alert_deps = paging.AlertDeps(
        uow=infra.uow,
        alerts=alerts,
        conversations=repo,
        jobs=infra.jobs,
        audit=repo.audit,
        clock=infra.clock,
        wake_worker=runtime.wake_worker,
        policy=PagingPolicy(
            escalate_after=timedelta(seconds=settings.page_escalate_after_s),
            base_url=settings.public_base_url,
        ),
    )
    # a crisis job must not give up: 20 attempts, at most a minute apart, then a dead letter
    crisis_policy = RetryPolicy(max_attempts=20, cap_s=60)
    definition.job_types[handlers.CRISIS_ALERT] = JobType(
        lambda job: paging.raise_crisis_alert(job, alert_deps), crisis_policy
    )
    definition.job_types[handlers.CRISIS_PAGE] = JobType(
        lambda job: paging.page_again(job, alert_deps), crisis_policy
    )
    definition.job_types[paging.CRISIS_ESCALATE] = JobType(
        lambda job: paging.escalate(job, alert_deps), crisis_policy
    )
    definition.admin_queries.update(alert_admin.queries(alert_deps))
    definition.admin_commands.update(alert_admin.commands(alert_deps))
    definition.job_types[handlers.CRISIS_FOLLOW_UP] = JobType(
        lambda job: handlers.send_follow_up(job, deps), RetryPolicy(max_attempts=20, cap_s=300)
    )
    return runtime
