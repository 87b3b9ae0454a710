"""The agent that needs no AI: acknowledge, reflect, offer a next step."""

from __future__ import annotations

from careline_conversation import replies
from careline_conversation.agents.base import AgentContext, AgentReply


class RulesAgent:
    name = "rules"

    async def reply(self, context: AgentContext) -> AgentReply:
        return AgentReply(replies.rules_reply(context.message), self.name)
