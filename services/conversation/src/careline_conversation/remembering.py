"""Conversation's memory jobs: embed a kept message, and recall for a reply what bears on it.

Embeddings are computed only here, in jobs, never in a message handler: the handler keeps the
message (``message_memory``) and owes a ``memory.embed`` job keyed ``embed:<MessageSid>`` when
an embedder is configured (an OpenAI key). The reply job then asks :class:`Recall` for the
caregiver's earlier messages most like the one it answers and the catalogue entries that may
fit it: by cosine similarity when the vectors are there, by shared words (BM25) otherwise, and
always by words without a key. A slow or failing embeddings API costs a reply at most one
short timeout, never the reply. Texts and vectors are personal data: only counts are logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from careline_contracts.jobs import EmbedMessageJob
from careline_conversation.agents import AgentContext
from careline_conversation.integrations.embeddings import Embedder, EmbeddingUnavailable
from careline_conversation.memory import similarity
from careline_conversation.repository import ConversationUow, Reader
from careline_conversation.safety.catalogue import Resource, entries
from careline_platform.jobs import Job
from careline_platform.logging import get_logger

log = get_logger(__name__)
CANDIDATES = 200
"""Kept messages a reply looks through: the caregiver's latest."""
RECALL_CHARS = 300
"""A recalled message is cut to this many characters in the request."""


async def embed_message(job: Job, uow: ConversationUow, recall: Recall) -> dict[str, Any]:
    """Store the embedding of one kept message (``memory.embed``); nothing if it is gone."""
    payload = EmbedMessageJob.of(job.payload)
    if recall.embedder is None:
        return {"skipped": "no_embedder"}
    kept = await uow.read().kept_message(payload.message_sid)
    if kept is None:
        return {"skipped": "gone"}  # erased with its caregiver
    if kept.get("model") == recall.embedder.model and kept.get("vector"):
        return {"skipped": "embedded"}
    [vector] = await recall.embedder.embed([kept["text"]])  # a failure retries the job
    stored = await uow.single().store_embedding(payload.message_sid, vector, recall.embedder.model, uow.now)
    return {"dimensions": len(vector), "stored": stored}


def resource_line(resource: Resource, language: str | None) -> str:
    """How the agent is told about a catalogue entry: its name, purpose and its own contacts."""
    contacts = ", ".join((*resource.numbers, *resource.links))
    line = f"{resource.name}: {resource.purpose} ({contacts})"
    return f"{line} {resource.spanish}" if language == "es" and resource.spanish else line


def _catalogue_text(resource: Resource) -> str:
    return " ".join((resource.name, resource.purpose, " ".join(resource.topics).replace("_", " ")))


@dataclass
class Recall:
    """Picks what a reply should remember; ``embedder`` None means words only (no key)."""

    embedder: Embedder | None = None
    messages: int = 3
    resources: int = 2
    _catalogue: list[list[float]] | None = field(default=None, repr=False)
    """The national catalogue entries' vectors, computed once per process (on first need)."""

    @property
    def embeds(self) -> bool:
        return self.embedder is not None

    async def enrich(
        self, context: AgentContext, reader: Reader, user_id: str, message_sid: str | None
    ) -> AgentContext:
        """``context`` with the recalled messages and the catalogue entries that fit it."""
        query = await self._query_vector(context.message, reader, message_sid)
        recalled = await self._recall(context, reader, user_id, message_sid, query)
        national = [r for r in entries() if not r.states]
        if query is not None and (vectors := await self._catalogue_vectors(national)) is not None:
            fits = similarity.by_embedding(query, list(zip(national, vectors, strict=True)), self.resources)
        else:
            fits = similarity.by_words(
                context.message, [(r, _catalogue_text(r)) for r in national], self.resources
            )
        log.info(
            "recall",
            by="embedding" if query is not None else "words",
            recalled=len(recalled),
            resources=len(fits),
        )
        return replace(
            context,
            recalled=tuple(recalled),
            resources=tuple(resource_line(s.item, context.language) for s in fits),
        )

    async def _recall(
        self,
        context: AgentContext,
        reader: Reader,
        user_id: str,
        message_sid: str | None,
        query: list[float] | None,
    ) -> list[str]:
        in_window = {str(m.get("sid")) for m in context.recent if m.get("sid")} | {message_sid}
        kept = [k for k in await reader.kept_messages(user_id, CANDIDATES) if k["_id"] not in in_window]
        model = self.embedder.model if self.embedder else None
        if query is not None:
            vectors = [(k, k["vector"]) for k in kept if k.get("vector") and k.get("model") == model]
            picked = similarity.by_embedding(query, vectors, self.messages)
        else:
            picked = similarity.by_words(context.message, [(k, str(k["text"])) for k in kept], self.messages)
        return [str(s.item["text"])[:RECALL_CHARS] for s in picked]

    async def _query_vector(
        self, message: str, reader: Reader, message_sid: str | None
    ) -> list[float] | None:
        """The message's vector: from its own embed job if it ran, else asked for now (once)."""
        if self.embedder is None:
            return None
        kept = await reader.kept_message(message_sid) if message_sid else None
        if kept and kept.get("model") == self.embedder.model and kept.get("vector"):
            return list(kept["vector"])
        try:
            [vector] = await self.embedder.embed([message])
        except EmbeddingUnavailable as exc:
            log.warning("recall.embedding_unavailable", reason=str(exc))
            return None
        return vector

    async def _catalogue_vectors(self, national: Sequence[Resource]) -> list[list[float]] | None:
        if self._catalogue is None and self.embedder is not None:
            try:
                self._catalogue = await self.embedder.embed([_catalogue_text(r) for r in national])
            except EmbeddingUnavailable as exc:
                log.warning("recall.catalogue_unavailable", reason=str(exc))
        return self._catalogue
