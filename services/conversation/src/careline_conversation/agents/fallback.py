"""Try the primary agent; when it cannot answer, the fallback does, at once."""

from __future__ import annotations

from careline_conversation.agents.base import Agent, AgentContext, AgentReply, AgentUnavailable
from careline_platform.logging import get_logger

log = get_logger(__name__)


class FallbackAgent:
    def __init__(self, primary: Agent, fallback: Agent) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}>{fallback.name}"
        self.instant = primary.instant and fallback.instant

    async def reply(self, context: AgentContext) -> AgentReply:
        try:
            return await self.primary.reply(context)
        except AgentUnavailable as exc:
            log.warning("agent.fallback", agent=self.primary.name, reason=str(exc))
            return await self.fallback.reply(context)

    async def summarise(self, context: AgentContext) -> str:
        try:
            return await self.primary.summarise(context)
        except AgentUnavailable as exc:
            log.warning("agent.fallback", agent=self.primary.name, reason=str(exc), task="summary")
            return await self.fallback.summarise(context)
