"""Try the primary agent; when it cannot answer, or its answer trips the wire, the fallback does.

Two things hand the turn to the fallback (the rules agent), at once and in this one place:

1. The primary raises ``AgentUnavailable`` (timeout, provider error, empty answer).
2. The primary's reply fails the ``ContactTripwire``: it names a phone number, short code or
   link that is not in the resource catalogue. A model can invent a hotline that sounds right;
   a caregiver in distress must never be sent one. Such a reply is dropped whole (its tool calls
   too) and logged as ``agent.tripwire`` with the count of offending contacts, never the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from careline_conversation.agents.base import Agent, AgentContext, AgentReply, AgentUnavailable
from careline_conversation.safety.catalogue import unknown_contacts
from careline_platform.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ContactTripwire:
    """Every contact in a reply must come from the catalogue (see ``safety.catalogue``).

    ``allowed_links_extra``: links the system itself generates and may let an agent repeat
    (checkout, billing portal, dashboard); none by default.
    """

    allowed_links_extra: Sequence[str] = ()

    def offending(self, reply: AgentReply) -> list[str]:
        """The numbers and links in the reply the catalogue does not hold (empty: it may be sent)."""
        return unknown_contacts(reply.text, allowed_links_extra=self.allowed_links_extra)


class FallbackAgent:
    def __init__(self, primary: Agent, fallback: Agent, tripwire: ContactTripwire | None = None) -> None:
        self.primary = primary
        self.fallback = fallback
        self.tripwire = tripwire or ContactTripwire()
        self.name = f"{primary.name}>{fallback.name}"
        self.instant = primary.instant and fallback.instant

    async def reply(self, context: AgentContext) -> AgentReply:
        try:
            reply = await self.primary.reply(context)
        except AgentUnavailable as exc:
            log.warning("agent.fallback", agent=self.primary.name, reason=str(exc))
            return await self.fallback.reply(context)
        if offending := self.tripwire.offending(reply):
            log.warning("agent.tripwire", agent=self.primary.name, offending=len(offending))
            return await self.fallback.reply(context)
        return reply

    async def summarise(self, context: AgentContext) -> str:
        # a summary is never sent to the caregiver, only given back to the agent: no tripwire
        try:
            return await self.primary.summarise(context)
        except AgentUnavailable as exc:
            log.warning("agent.fallback", agent=self.primary.name, reason=str(exc), task="summary")
            return await self.fallback.summarise(context)
