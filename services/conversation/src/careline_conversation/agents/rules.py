"""The agent that needs no AI: acknowledge, reflect, offer a next step."""

from __future__ import annotations

from careline_conversation.agents.base import AgentContext, AgentReply
from careline_conversation.domain import replies

SUMMARY_CHARS = 400


class RulesAgent:
    name = "rules"
    instant = True

    async def reply(self, context: AgentContext) -> AgentReply:
        return AgentReply(
            replies.rules_reply(context.message, post_crisis=context.post_crisis is not None), self.name
        )

    async def summarise(self, context: AgentContext) -> str:
        """Extractive: who they are, then the first sentence of their latest messages."""
        parts = [f"Name: {context.first_name}."] if context.first_name else []
        said = [str(t.get("text", "")) for t in context.recent if t.get("dir") == "in"]
        for text in reversed(said[-4:]):
            first = text.strip().split(". ")[0].strip()
            if len(first) > 3:
                parts.append(f'Said: "{first[:120]}".')
        return " ".join(parts)[:SUMMARY_CHARS]
