"""Composition root of the conversation service: the real adapters, built from settings."""

from __future__ import annotations

from datetime import timedelta

from careline_contracts import subjects
from careline_conversation import alert_admin, repository
from careline_conversation.agents import Agent, FallbackAgent, OpenAIAgent, RulesAgent
from careline_conversation.domain.alerts import PagingPolicy
from careline_conversation.domain.ratelimit import RateLimits
from careline_conversation.handlers import Services
from careline_conversation.integrations.embeddings import OpenAIEmbedder
from careline_conversation.integrations.sms import SandboxSender, SmsSender, TwilioSender
from careline_conversation.language.detector import detect_language, warm_in_background
from careline_conversation.remembering import Recall
from careline_conversation.repository import MongoReader, MongoSentMessages, MongoWriter
from careline_conversation.subscribers import NAME, job_types, subscribers
from careline_platform.admin import CaregiverSlice
from careline_platform.clock import Clock
from careline_platform.messaging import Publisher
from careline_platform.production import ConfigurationError
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings

__all__ = ["NAME", "build_agent", "build_recall", "build_sender", "create_service", "prefork"]


def prefork() -> None:
    """Load what each conversation process would load at start, before a zygote forks it
    (``careline_testing.zygote``): the language models (1.5 to 2 s of CPU each time otherwise).
    Loading leaves no thread behind, so the forks share the models and start warm."""
    detect_language("warm the models before the fork")


def build_sender(settings: Settings, publisher: Publisher) -> SmsSender:
    """Twilio when an account is configured; the local sandbox only in the sandbox (a half-set
    Twilio fails at start, not quietly on this machine)."""
    if not settings.twilio_sandbox:
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ConfigurationError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together")
        return TwilioSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number,
            settings.twilio_api_base_url,
            settings.twilio_timeout_s,
        )
    return SandboxSender(publisher)


def build_recall(settings: Settings) -> Recall:
    """Recall by OpenAI embeddings when a key is configured (computed in jobs only); by words otherwise."""
    embedder = None
    if settings.openai_api_key is not None:
        embedder = OpenAIEmbedder(
            settings.openai_api_key.get_secret_value(),
            settings.openai_embedding_model,
            settings.openai_embedding_dimensions,
            base_url=settings.openai_base_url,
            timeout_s=settings.openai_embedding_timeout_s,
        )
    return Recall(embedder, messages=settings.recall_messages)


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
    uow = infra.unit_of_work(subjects.CONVERSATION, writer=MongoWriter, reader=MongoReader)
    sender = build_sender(settings, infra.publisher)
    services = Services(
        sender=sender,
        agent=build_agent(settings),
        progress=infra.jobs,
        sent=MongoSentMessages(infra.db),
        limits=RateLimits(
            per_window=settings.rate_window_limit,
            window=timedelta(seconds=settings.rate_window_s),
            per_day=settings.rate_daily_limit,
        ),
        summary_every=settings.summary_every,
        sms_regions=settings.sms_regions,
        recall=build_recall(settings),
    )
    policy = PagingPolicy(
        escalate_after=timedelta(seconds=settings.page_escalate_after_s), base_url=settings.public_base_url
    )

    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.CONVERSATION, subjects.SANDBOX),
        on_start=[lambda: repository.ensure_indexes(infra.db), warm_in_background],
        on_stop=[sender.close] if isinstance(sender, TwilioSender) else [],
        rollup=uow.read().daily_metrics,
        caregiver=CaregiverSlice.of(uow),
        consumers=subscribers(uow, services),
        job_types=job_types(uow, services, policy),
        admin_operations=alert_admin.operations(uow),
    )
    return ServiceRuntime(infra, definition)
