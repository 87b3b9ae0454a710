"""National resources the line can point a caregiver to, by topic (the OpenAI agent's tool).

For resources near the caregiver (state entries from their ZIP), see ``local_resources``.

The texts come from the resource catalogue (``safety/data/resources.toml``), where every number
and link they contain is recorded with the official page it was checked against.
"""

from __future__ import annotations

from careline_conversation.safety.catalogue import catalogue

RESOURCES: dict[str, str] = {t.topic: t.text for t in catalogue().topics}
TOPICS = tuple(RESOURCES)


def find_resource(topic: str) -> str:
    """The resource for a topic; an unknown topic gets the general line."""
    return RESOURCES.get(topic, RESOURCES["general"])
