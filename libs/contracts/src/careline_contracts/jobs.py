"""Job payloads: what a service asks its own job worker to do later, as typed, frozen models.

A job document's ``payload`` is one of these, dumped to JSON-compatible data. Every payload
carries the caregiver's ``user_id``, so erasing a caregiver can find and delete their jobs.
Payloads never carry a caregiver's message text; a phone number only where the job must send
to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Self

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


_REGISTRY: dict[str, type[JobPayload]] = {}


class JobPayload(BaseModel):
    """The base of every job payload: frozen, strict, and about one caregiver.

    Each concrete payload names its job type in ``JOB_TYPE`` and is registered under it, so
    ``tx.schedule(payload, key=...)`` knows the type and a worker can read a job back as its
    model. One type, one model: a second model for the same type is an import-time error.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    JOB_TYPE: ClassVar[str] = ""

    user_id: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        job_type = cls.__dict__.get("JOB_TYPE")
        if job_type:
            known = _REGISTRY.get(job_type)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"job type {job_type!r} already has a payload model: {known.__qualname__}")
            _REGISTRY[job_type] = cls

    @classmethod
    def job_type(cls) -> str:
        if not cls.JOB_TYPE:
            raise TypeError(f"{cls.__qualname__} names no JOB_TYPE")
        return cls.JOB_TYPE

    @staticmethod
    def registry() -> dict[str, type[JobPayload]]:
        return dict(_REGISTRY)

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Self:
        return cls.model_validate(payload)


class SmsCompose(BaseModel):
    """What an agent must answer, when the reply is composed inside the job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str
    then: str | None = None
    """A fixed text sent after the agent's words, in the same SMS (a pending onboarding question)."""
    message_sid: str | None = None
    """The inbound message's id: its stored copy is left out of what is recalled for it."""


class SendSmsJob(JobPayload):
    """Send one SMS to a caregiver exactly once (``sms.send``).

    ``body`` is the text decided with the turn; when it is absent, ``compose`` carries the
    caregiver's message and the job asks the agent (its answer is stored in the job before
    anything is sent). ``kind`` says which path owed it (a reply, a check-in, a page...).
    """

    JOB_TYPE: ClassVar[str] = "sms.send"

    to: str
    kind: str
    body: str | None = None
    compose: SmsCompose | None = None
    agent: str | None = None
    correlation_id: str | None = None


class SummaryRefreshJob(JobPayload):
    """Rewrite a caregiver's running summary from the recent window (``summary.refresh``)."""

    JOB_TYPE: ClassVar[str] = "summary.refresh"


class EmbedMessageJob(JobPayload):
    """Compute and store the embedding of one stored inbound message (``memory.embed``), so
    later replies can recall it; the text stays in conversation's ``message_memory``, never in
    the job."""

    JOB_TYPE: ClassVar[str] = "memory.embed"

    message_sid: str


class CrisisAlertJob(JobPayload):
    """Open an alert for a crisis message and start paging (``crisis.alert``).

    ``priority`` is ``high`` for the explicit tier (a page goes out at once) and ``low`` for the
    indirect tier (a page only if nobody acknowledged the alert within the hour).
    """

    JOB_TYPE: ClassVar[str] = "crisis.alert"

    message_sid: str
    category: CrisisCategory
    tier: CrisisTier
    priority: Priority
    language: Language = "en"
    correlation_id: str = ""


class CrisisPageJob(JobPayload):
    """Page the on-call roster about an open alert again (``crisis.page``): a follow-up NO,
    a yes to the indirect question, or a new crisis while the alert is open."""

    JOB_TYPE: ClassVar[str] = "crisis.page"

    alert_id: str
    reason: Literal["follow_up_no", "confirmed", "new_crisis", "unacknowledged", "escalation"]
    correlation_id: str = ""


class CrisisFollowUpJob(JobPayload):
    """Ask a caregiver after a crisis whether they reached help (``crisis.follow_up``).

    ``step`` 1 is the +24 h question, 2 the +48 h nudge. Skipped if the caregiver wrote since
    ``crisis_at`` (the crisis message's time), or opted out.
    """

    JOB_TYPE: ClassVar[str] = "crisis.follow_up"

    alert_id: str
    step: Literal[1, 2]
    crisis_at: datetime
    language: Language = "en"


class CrisisEscalationJob(JobPayload):
    """Check, when a page's time to be acknowledged is up, whether it was (``crisis.escalate``).

    ``round`` and ``step`` name the page it checks: if the alert is still open and its paging
    has not moved on since, the next person on the roster is paged.
    """

    JOB_TYPE: ClassVar[str] = "crisis.escalate"

    alert_id: str
    round: int
    step: int
    correlation_id: str = ""


# --- billing's jobs ---------------------------------------------------------------------------
# Field names are those billing stored before these models existed, so jobs already in the
# database parse. ``correlation_id`` may have been stored as null.


class TrialEndJob(JobPayload):
    """End a caregiver's trial if no subscription replaced it (``trial.end``, due at its end)."""

    JOB_TYPE: ClassVar[str] = "trial.end"

    correlation_id: str | None = None


class GraceEndJob(JobPayload):
    """End access after a past_due spell's grace period (``grace.end``), unless the spell that
    began at ``since`` is over (the payment came through, or the subscription moved on)."""

    JOB_TYPE: ClassVar[str] = "grace.end"

    since: datetime
    correlation_id: str | None = None


class SubscriptionSyncJob(JobPayload):
    """Apply Stripe's current subscription (``stripe.subscription.sync``): two events of the
    same second could not be ordered from their payloads."""

    JOB_TYPE: ClassVar[str] = "stripe.subscription.sync"

    subscription_id: str
    correlation_id: str | None = None


class CheckoutCreateJob(JobPayload):
    """Create a caregiver's Stripe checkout session once and hand the link on
    (``stripe.checkout.create``); ``situation`` and ``plan`` travel with the link."""

    JOB_TYPE: ClassVar[str] = "stripe.checkout.create"

    correlation_id: str | None = None
    situation: Literal["new", "lapsed", "payment", "incomplete", "asked"] = "new"
    plan: Literal["monthly", "annual"] = "monthly"


class CanceledAccessEndJob(JobPayload):
    """End access 30 days after a subscription ended (``canceled.access.end``), unless the
    account moved on since (a new subscription, or a newer cancellation)."""

    JOB_TYPE: ClassVar[str] = "canceled.access.end"

    ended_at: datetime
    correlation_id: str | None = None


class TrialWarningJob(JobPayload):
    """Warn a caregiver kindly that their local trial ends in a few days (``trial.warning``),
    unless a subscription replaced it or they were warned about this trial already."""

    JOB_TYPE: ClassVar[str] = "trial.warning"

    trial_end: datetime
    correlation_id: str | None = None


class PortalNoticeJob(JobPayload):
    """Create a Stripe billing portal session for the caregiver and hand the notice on with its
    link (``stripe.portal.notice``): a failed payment's (``payment_failed``) or BILLING's
    (``portal``). ``notice_id`` names the fact, so the notice is owed once."""

    JOB_TYPE: ClassVar[str] = "stripe.portal.notice"

    notice: Literal["payment_failed", "payment_overdue", "portal"]
    notice_id: str
    customer_id: str
    correlation_id: str | None = None


class SubscriptionCancelJob(JobPayload):
    """Cancel an erased caregiver's Stripe subscription at once (``stripe.subscription.cancel``):
    the erasure owes it, so no erasure cancels it (``SURVIVES_ERASURE``)."""

    JOB_TYPE: ClassVar[str] = "stripe.subscription.cancel"
    SURVIVES_ERASURE: ClassVar[bool] = True

    subscription_id: str
