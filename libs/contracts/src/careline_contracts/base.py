"""The base of every event: frozen, versioned, strict about unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """A fact one service tells the others. Subclasses set ``subject``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: ClassVar[str]
    v: Literal[1] = 1
    occurred_at: datetime
    correlation_id: str = ""

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
