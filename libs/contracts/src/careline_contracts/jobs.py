"""Job payloads: what a service asks its own job worker to do later, as typed, frozen models.

A job document's ``payload`` is one of these, dumped to JSON-compatible data. Every payload
carries the caregiver's ``user_id``, so erasing a caregiver can find and delete their jobs.
Payloads never carry a caregiver's message text; a phone number only where the job must send
to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict

CrisisCategory = Literal[
    "suicide_self",  # suicide or self-harm of the texter
    "suicide_other",  # someone else (the care recipient, a family member) at risk of suicide
    "medical_emergency",
    "abuse_of_caregiver",  # abuse or violence against the caregiver
    "abuse_of_recipient",  # abuse, neglect or exploitation of the person cared for
    "harm_to_others",  # risk of harm to others, the caregiver's fear of hurting them included
]
CRISIS_CATEGORIES: tuple[str, ...] = CrisisCategory.__args__  # type: ignore[attr-defined]
CrisisTier = Literal["explicit", "indirect"]
Priority = Literal["high", "low"]
Language = Literal["en", "es"]


class JobPayload(BaseModel):
    """The base of every job payload: frozen, strict, and about one caregiver."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Self:
        return cls.model_validate(payload)


class CrisisAlertJob(JobPayload):
    """Open an alert for a crisis message and start paging (``crisis.alert``).

    ``priority`` is ``high`` for the explicit tier (a page goes out at once) and ``low`` for the
    indirect tier (a page only if nobody acknowledged the alert within the hour).
    """

    message_sid: str
    category: CrisisCategory
    tier: CrisisTier
    priority: Priority
    language: Language = "en"
    correlation_id: str = ""


class CrisisPageJob(JobPayload):
    """Page the on-call roster about an open alert again (``crisis.page``): a follow-up NO,
    a yes to the indirect question, or a new crisis while the alert is open."""

    alert_id: str
    reason: Literal["follow_up_no", "confirmed", "new_crisis", "unacknowledged", "escalation"]
    correlation_id: str = ""


class CrisisFollowUpJob(JobPayload):
    """Ask a caregiver after a crisis whether they reached help (``crisis.follow_up``).

    ``step`` 1 is the +24 h question, 2 the +48 h nudge. Skipped if the caregiver wrote since
    ``crisis_at`` (the crisis message's time), or opted out.
    """

    alert_id: str
    step: Literal[1, 2]
    crisis_at: datetime
    language: Language = "en"


class CrisisEscalationJob(JobPayload):
    """Check, when a page's time to be acknowledged is up, whether it was (``crisis.escalate``).

    ``round`` and ``step`` name the page it checks: if the alert is still open and its paging
    has not moved on since, the next person on the roster is paged.
    """

    alert_id: str
    round: int
    step: int
    correlation_id: str = ""
