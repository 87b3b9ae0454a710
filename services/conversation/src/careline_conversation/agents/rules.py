"""The agent that needs no AI: answer what the text is about with a vetted tip, from data.

The message's intent (``intents.classify``) picks the tips; the reply acknowledges, offers one
practical next step, and uses what is known about the caregiver (name, who they care for, the
condition, whether a ZIP is known). In the day after a crisis it only stays present, with 988.
"""

from __future__ import annotations

import re

from careline_conversation.agents.base import AgentContext, AgentReply
from careline_conversation.domain import replies
from careline_conversation.intents import classify
from careline_conversation.intents.tips import Caregiver, compose

SUMMARY_CHARS = 400
_ZIP = re.compile(r"(?<!\d)\d{5}(?!\d)")  # a ZIP in the message itself counts as known


class RulesAgent:
    name = "rules"
    instant = True

    async def reply(self, context: AgentContext) -> AgentReply:
        if context.post_crisis is not None:
            return AgentReply(replies.gentle(context.language or "en"), self.name)
        found = classify(context.message)
        zip_in_text = _ZIP.search(context.message)
        zip_code = context.zip_code or (zip_in_text.group() if zip_in_text else None)
        who = Caregiver(context.first_name, context.relationship, context.condition, zip_code)
        # what the turn adds after these words counts as said: no second check-in offer
        said = (*context.recent, {"dir": "out", "text": context.then}) if context.then else context.recent
        text = compose(
            found,
            language=context.language or found.language or "en",
            message_id=context.message_id or context.message,
            who=who,
            recent=said,
            message=context.message,
        )
        return AgentReply(text, self.name)

    async def summarise(self, context: AgentContext) -> str:
        """Extractive: who they are, then the first sentence of their latest messages."""
        parts = [f"Name: {context.first_name}."] if context.first_name else []
        said = [str(t.get("text", "")) for t in context.recent if t.get("dir") == "in"]
        for text in reversed(said[-4:]):
            first = text.strip().split(". ")[0].strip()
            if len(first) > 3:
                parts.append(f'Said: "{first[:120]}".')
        return " ".join(parts)[:SUMMARY_CHARS]
