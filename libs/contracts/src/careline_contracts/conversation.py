"""Events published by conversation."""

from __future__ import annotations

from typing import ClassVar

from careline_contracts import subjects
from careline_contracts.base import Event


class SandboxSmsSent(Event):
    """An outbound SMS delivered to the local sandbox instead of Twilio (no credentials)."""

    subject: ClassVar[str] = subjects.SANDBOX_SMS_SENT
    sid: str
    to: str
    body: str
