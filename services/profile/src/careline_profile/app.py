"""Composition root of the profile service."""

from __future__ import annotations

from careline_contracts import subjects
from careline_contracts.conversation import FactLearned, OptOutChanged
from careline_contracts.ingress import UserRegistered
from careline_platform.clock import Clock
from careline_platform.messaging import ConsumerSpec
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings
from careline_profile import handlers
from careline_profile.repository import ProfileRepository

NAME = "profile"


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    repo = ProfileRepository(infra.db)
    deps = handlers.Deps(uow=infra.uow, repo=repo, clock=infra.clock)
    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.PROFILE,),
        on_start=[repo.ensure_indexes],
        consumers=[
            ConsumerSpec(
                NAME,
                subjects.USERS,
                subjects.USER_REGISTERED,
                "profile-user-registered",
                UserRegistered,
                lambda e, d: handlers.on_user_registered(e, d, deps),
            ),
            ConsumerSpec(
                NAME,
                subjects.CONVERSATION,
                subjects.CONVERSATION_FACT_LEARNED,
                "profile-facts",
                FactLearned,
                lambda e, d: handlers.on_fact_learned(e, d, deps),
            ),
            ConsumerSpec(
                NAME,
                subjects.CONVERSATION,
                subjects.CONVERSATION_OPTOUT_CHANGED,
                "profile-optout",
                OptOutChanged,
                lambda e, d: handlers.on_optout_changed(e, d, deps),
            ),
        ],
    )
    return ServiceRuntime(infra, definition)
