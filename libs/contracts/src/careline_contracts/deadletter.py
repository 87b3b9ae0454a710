"""The envelope of a message a consumer gave up on."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeadLetter(BaseModel):
    """Why and where a message was parked; the original payload travels base64-free as text."""

    model_config = ConfigDict(frozen=True)

    v: int = 1
    service: str
    subject: str
    msg_id: str
    reason: str
    deliveries: int
    payload: str
    dead_at: datetime
