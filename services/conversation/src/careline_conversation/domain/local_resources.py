"""Resources for a caregiver's need, local when their ZIP places them, national otherwise.

``resources_for(need, zip_code, language)`` is pure: it reads only the resource catalogue
(``safety/data/resources.toml``) and the shared ZIP3 table (``careline_platform.zip3``), so every
number and link it returns is one the catalogue records with its official source.

How it picks, at most ``MAX_ENTRIES`` entries, fewer when the reply would pass ``MAX_SEGMENTS``
SMS segments (the last, least specific, entries are dropped first):

1. The ZIP gives a state: the catalogue's entries for that state and that need come first.
2. Then the national entries for the need; an unknown need gets the local locators instead.
3. A state with no entry for the need (most states: only entries verified on the state's own
   official page are recorded) gets the national locators that refer to local services
   (Eldercare Locator, 211) after the national entries, by phone: neither official site documents
   a deep link that takes a ZIP.
4. The ZIP is missing, malformed or not a civilian US prefix: national entries only, and the reply
   says "share your ZIP for local options" instead of pretending to know what is near.
"""

from __future__ import annotations

from dataclasses import dataclass

from careline_conversation.safety.catalogue import LocalReply, Resource, catalogue
from careline_conversation.safety.sizing import segments
from careline_platform.zip3 import state_for_zip

MAX_ENTRIES = 3
MAX_SEGMENTS = 3
LOCAL_LOCATORS = "local_services"
"""The topic of the national lines that refer a caller to local services."""


@dataclass(frozen=True)
class ResourceAnswer:
    """The entries picked for a caregiver, and the reply text that names them."""

    need: str
    state: str | None
    """The caregiver's state from their ZIP, or None when the ZIP does not place them."""
    entries: tuple[Resource, ...]
    text: str

    @property
    def asks_for_zip(self) -> bool:
        return self.state is None


def resources_for(need: str, zip_code: str | None, language: str = "en") -> ResourceAnswer:
    """Catalogue entries for ``need`` near ``zip_code``, with their reply in ``language``."""
    state = state_for_zip(zip_code) if zip_code else None
    local = _for_state(need, state) if state else []
    fill = _national(LOCAL_LOCATORS) if state and not local else []
    picked = tuple(_unique([*local, *_national(need), *fill])[:MAX_ENTRIES])
    text = _reply(picked, state, language)
    while segments(text) > MAX_SEGMENTS and len(picked) > 1:
        picked = picked[:-1]  # the least specific goes first: Spanish accents make a segment 70
        text = _reply(picked, state, language)
    return ResourceAnswer(need, state, picked, text)


def _national(need: str) -> list[Resource]:
    found = [r for r in catalogue().resources if not r.states and need in r.topics]
    if found or need == LOCAL_LOCATORS:
        return found
    return _national(LOCAL_LOCATORS)


def _for_state(need: str, state: str) -> list[Resource]:
    return [r for r in catalogue().resources if state in r.states and need in r.topics]


def _unique(resources: list[Resource]) -> list[Resource]:
    return list({r.id: r for r in resources}.values())


def _reply(entries: tuple[Resource, ...], state: str | None, language: str) -> str:
    words = _words(language)
    lines = [r.said_in(language) or words.entry.format(name=r.name, contact=contact_of(r)) for r in entries]
    if state is None:
        lines.append(words.share_zip)
    return " ".join(lines)


def _words(language: str) -> LocalReply:
    replies = catalogue().local_reply
    return replies.get(language) or replies["en"]


def contact_of(resource: Resource) -> str:
    """How a reply names a resource's contact: its first number, else its first link."""
    return resource.numbers[0] if resource.numbers else resource.links[0]
