"""The OpenAI agent: the official SDK, an explicit timeout, tool calls, SMS-sized answers.

It runs only inside a reply job, never in a message handler. It makes no retries of its own:
a failure raises ``AgentUnavailable`` and the rules agent answers instead, so a caregiver is
never kept waiting on a slow provider.
"""

from __future__ import annotations

import json
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from careline_conversation.agents.base import AgentContext, AgentReply, AgentUnavailable, ToolCall
from careline_conversation.resources import TOPICS, find_resource

SYSTEM_PROMPT = (
    "You are Careline, a warm text-message companion for family caregivers. Answer in at most "
    "two short sentences that fit one SMS: acknowledge what they said, reflect it, and offer one "
    "small next step. Never give medical, legal or financial advice as fact; suggest asking a "
    "professional instead. Use the tools when they fit: start_assessment when the caregiver "
    "wants to check in on how they are doing, record_profile_fact when they tell you their first "
    "name, their relationship to the person they care for, or their ZIP code, and find_resource "
    "when they ask for help of a kind listed there."
)

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "start_assessment",
            "description": "Start a short burnout check-in with the caregiver.",
            "parameters": {
                "type": "object",
                "properties": {"instrument": {"type": "string", "enum": ["checkin", "burnout"]}},
                "required": ["instrument"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "record_profile_fact",
            "description": "Remember a fact the caregiver stated about themselves.",
            "parameters": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "enum": ["first_name", "relationship", "zip"]},
                    "value": {"type": "string"},
                },
                "required": ["field", "value"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "find_resource",
            "description": "Look up a support resource for the caregiver.",
            "parameters": {
                "type": "object",
                "properties": {"topic": {"type": "string", "enum": list(TOPICS)}},
                "required": ["topic"],
            },
        },
    },
]
KNOWN_TOOLS = frozenset(t["function"]["name"] for t in TOOLS)


class OpenAIAgent:
    name = "openai"
    instant = False

    def __init__(self, api_key: str, model: str, base_url: str | None = None, timeout_s: float = 8.0) -> None:
        self.client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)
        self.model = model

    def _messages(self, context: AgentContext) -> list[dict[str, Any]]:
        system = SYSTEM_PROMPT
        if context.first_name:
            system += f" The caregiver's first name is {context.first_name}."
        if context.summary:
            system += f" What you know so far: {context.summary}"
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for turn in context.recent:
            role = "user" if turn.get("dir") == "in" else "assistant"
            messages.append({"role": role, "content": str(turn.get("text", ""))})
        if not context.recent or context.recent[-1].get("text") != context.message:
            messages.append({"role": "user", "content": context.message})
        return messages

    async def _complete(self, messages: list[dict[str, Any]], *, tools: bool) -> Any:
        try:
            extra: dict[str, Any] = {"tools": TOOLS, "tool_choice": "auto"} if tools else {}
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                max_tokens=160,
                **extra,
            )
        except (openai.APIError, openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise AgentUnavailable(type(exc).__name__) from exc
        if not response.choices:
            raise AgentUnavailable("no choices")
        return response.choices[0].message

    async def reply(self, context: AgentContext) -> AgentReply:
        messages = self._messages(context)
        message = await self._complete(messages, tools=True)
        calls = [c for c in (message.tool_calls or []) if c.function.name in KNOWN_TOOLS]
        tool_calls = tuple(ToolCall(c.function.name, _arguments(c.function.arguments)) for c in calls)
        text = (message.content or "").strip()
        if calls and not text:
            # the model asked for tools first: give it their results and ask for the words
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.function.name, "arguments": c.function.arguments},
                        }
                        for c in calls
                    ],
                }
            )
            for call, parsed in zip(calls, tool_calls, strict=True):
                messages.append({"role": "tool", "tool_call_id": call.id, "content": _tool_result(parsed)})
            text = ((await self._complete(messages, tools=False)).content or "").strip()
        if not text:
            raise AgentUnavailable("empty answer")
        return AgentReply(text, self.name, tool_calls)

    async def summarise(self, context: AgentContext) -> str:
        messages = self._messages(context)
        messages[0] = {"role": "system", "content": SUMMARY_PROMPT}
        if context.summary:
            messages.insert(1, {"role": "user", "content": f"Earlier summary: {context.summary}"})
        text = ((await self._complete(messages, tools=False)).content or "").strip()
        if not text:
            raise AgentUnavailable("empty summary")
        return text[:400]


SUMMARY_PROMPT = (
    "Summarise, in at most three short sentences, what this caregiver has shared: who they care "
    "for, what is hard, what helps. Facts only, no advice."
)


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _tool_result(call: ToolCall) -> str:
    if call.name == "find_resource":
        return find_resource(str(call.arguments.get("topic", "general")))
    return "done"
