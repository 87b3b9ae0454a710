"""The agents that write Careline's free-text replies: OpenAI when configured, rules otherwise."""

from careline_conversation.agents.base import Agent, AgentContext, AgentReply, AgentUnavailable, ToolCall
from careline_conversation.agents.fallback import FallbackAgent
from careline_conversation.agents.openai_agent import OpenAIAgent
from careline_conversation.agents.rules import RulesAgent

__all__ = [
    "Agent",
    "AgentContext",
    "AgentReply",
    "AgentUnavailable",
    "FallbackAgent",
    "OpenAIAgent",
    "RulesAgent",
    "ToolCall",
]
