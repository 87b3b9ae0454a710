"""Text embeddings: OpenAI's embeddings API through the official SDK, called only from jobs.

An embedding is computed in the ``memory.embed`` job (one stored message) and in the reply job
(the message being answered, when its own job has not run yet, and the resource catalogue once
per process); never in a message handler. There are no retries inside: a failure raises
:class:`EmbeddingUnavailable`, and the caller falls back (the embed job retries later; a reply
recalls by words instead). The texts are personal data: nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import openai
from openai import AsyncOpenAI


class EmbeddingUnavailable(Exception):
    """The provider gave no usable embedding (timeout, error, a malformed answer)."""


class Embedder(Protocol):
    model: str
    """Stored with every vector: vectors of different models are never compared."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; raises :class:`EmbeddingUnavailable`."""
        ...


class OpenAIEmbedder:
    def __init__(
        self, api_key: str, model: str, dimensions: int, base_url: str | None = None, timeout_s: float = 5.0
    ) -> None:
        self.client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)
        self.model = model
        self.dimensions = dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            response = await self.client.embeddings.create(
                model=self.model,
                input=list(texts),
                dimensions=self.dimensions,
                encoding_format="float",
            )
        except (openai.APIError, openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise EmbeddingUnavailable(type(exc).__name__) from exc
        ordered = sorted(response.data, key=lambda d: d.index)
        if len(ordered) != len(texts) or any(len(d.embedding) != self.dimensions for d in ordered):
            raise EmbeddingUnavailable("unexpected shape")
        return [list(d.embedding) for d in ordered]
