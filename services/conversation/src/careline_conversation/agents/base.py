"""One interface for every agent: what it knows about the caregiver in, a short reply out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class AgentContext:
    """What an agent may use: the new message, the recent window, the running summary and the
    caregiver's memory."""

    message: str
    recent: tuple[dict[str, Any], ...] = ()
    summary: str = ""
    first_name: str | None = None
    post_crisis: str | None = None
    """The crisis category when the caregiver had a crisis in the last 24 hours (never its text):
    the agent stays gentle and offers no questionnaire, paywall or pitch."""
    relationship: str | None = None
    """Who they care for, as onboarding recorded it: spouse, parent, child or other."""
    condition: str | None = None
    """The care recipient's main condition, when known."""
    zip_code: str | None = None
    message_id: str = ""
    """The inbound message's id: seeds the rules agent's choice of words, so replays match."""
    then: str = ""
    """A fixed line the turn sends after the agent's words, in the same SMS (a pending onboarding
    question, onboarding's closing words): the agent should not offer what it already offers."""
    language: Literal["en", "es"] | None = None
    """The caregiver's language when known (``domain.language``: detected from their first
    messages or chosen with ESPAÑOL / ENGLISH); None, and the agent judges from the text."""
    remembered: tuple[tuple[str, str], ...] = ()
    """What the line remembers about the caregiver and the person they care for, as (label,
    value) pairs (``memory.facts.view``): profile facts and the caregiver's own words."""
    band: str | None = None
    """The burnout band of their latest assessment, when they have done one."""
    pressure_zones: tuple[str, ...] = ()
    """The pressure zones that drove that band, most pressing first."""
    recent_crisis: str | None = None
    """The category (never the text) of a crisis in the last weeks, even after post-crisis mode."""
    recalled: tuple[str, ...] = ()
    """Earlier messages of theirs that bear on this one (filled in by the reply job)."""
    resources: tuple[str, ...] = ()
    """Catalogue entries that may fit this message, each a line naming only catalogue contacts."""


@dataclass(frozen=True)
class ToolCall:
    """An action the agent asked for; conversation carries it out after the reply is stored."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentReply:
    text: str
    agent: str
    tool_calls: tuple[ToolCall, ...] = ()


class AgentUnavailable(Exception):
    """The agent could not answer (timeout, provider error, unusable answer): use another."""


class Agent(Protocol):
    name: str
    instant: bool
    """True when the agent answers from what it is given alone, without I/O or cost (the rules
    agent): its reply is composed in the turn itself. Otherwise the reply job composes it."""

    async def reply(self, context: AgentContext) -> AgentReply: ...

    async def summarise(self, context: AgentContext) -> str:
        """A short running summary of what the caregiver has shared (for later replies)."""
        ...
