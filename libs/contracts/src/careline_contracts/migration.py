"""Events of the legacy backfill: one legacy ``users`` document fanned out into four slices.

The ``careline migrate backfill`` tool reads the old 117-field documents, validates and
normalises them into :class:`LegacyUser` and submits them in batches to ingress (the edge, as
for Twilio and Stripe). Ingress resolves each caregiver's identity by phone number and passes
the batch on as :class:`UsersImported`; conversation, billing and profile each upsert their
slice from it and confirm with their own ``*.backfill.applied`` event, which the tool counts.

Batches are not caregiver-partitioned (a caregiver appears in exactly one batch of a run):
they carry the run id's partition, so a run's confirmations can be read back from one subject.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from careline_contracts import subjects
from careline_contracts.base import Event

MAX_RECENT_MESSAGES = 12
MAX_ASSESSMENTS = 24


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LegacyMessage(_Part):
    """One message of the legacy conversation window."""

    dir: Literal["in", "out"]
    text: str = Field(max_length=1600)
    at: datetime


class LegacyAssessment(_Part):
    """A completed assessment from the legacy history (score 0-100, higher is more burnout)."""

    completed_at: datetime
    score: float = Field(ge=0, le=100)
    band: str
    instrument: str = "legacy"


class LegacyProfile(_Part):
    first_name: str | None = None
    relationship: Literal["spouse", "parent", "child", "other"] | None = None
    zip: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    time_zone: str | None = None
    journey_phase: Literal["onboarding", "active", "maintenance", "crisis_support", "churned"] | None = None
    burnout_score: float | None = Field(default=None, ge=0, le=100)
    burnout_band: Literal["crisis", "high", "moderate", "mild", "thriving"] | None = None
    pressure_zones: list[str] = Field(default_factory=list)
    last_contact_at: datetime | None = None
    assessments: list[LegacyAssessment] = Field(default_factory=list, max_length=MAX_ASSESSMENTS)


class LegacyConversation(_Part):
    recent_messages: list[LegacyMessage] = Field(default_factory=list, max_length=MAX_RECENT_MESSAGES)
    summary: str | None = None
    opted_out: bool = False
    total_interactions: int = Field(default=0, ge=0)
    started_at: datetime | None = None
    last_inbound_at: datetime | None = None


SubscriptionStatus = Literal["trialing", "active", "past_due", "canceled", "incomplete", "unpaid", "none"]


class LegacyBilling(_Part):
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    status: SubscriptionStatus = "none"
    trial_end: datetime | None = None
    current_period_end: datetime | None = None
    canceled_at: datetime | None = None
    cancel_at_period_end: bool = False


class LegacyUser(_Part):
    """One legacy caregiver, validated and normalised (phone in E.164), split by owner."""

    legacy_id: str = Field(min_length=1, max_length=128)
    phone: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")
    email: str | None = None
    roles: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    profile: LegacyProfile = Field(default_factory=LegacyProfile)
    conversation: LegacyConversation = Field(default_factory=LegacyConversation)
    billing: LegacyBilling = Field(default_factory=LegacyBilling)


class ImportedUser(LegacyUser):
    """A legacy caregiver with the identity ingress resolved for it."""

    user_id: str
    identity: Literal["created", "linked"]
    """``created``: a new identity; ``linked``: the phone number already had a live identity."""


class LegacyUsersSubmitted(Event):
    """A batch of legacy caregivers submitted by ``careline migrate backfill`` (``Nats-Msg-Id``
    ``backfill:<run>:<batch>``)."""

    subject: ClassVar[str] = subjects.MIGRATION_USERS_SUBMITTED
    run_id: str = Field(pattern=r"^[0-9a-f]{8,32}$")
    batch: int = Field(ge=0)
    users: list[LegacyUser]


class SliceCounts(_Part):
    """What a service did with one batch: new slices, live slices whose gaps were filled, untouched."""

    created: int = 0
    filled: int = 0
    unchanged: int = 0


class UsersImported(Event):
    """Ingress resolved the identities of a submitted batch; every service now writes its slice."""

    subject: ClassVar[str] = subjects.USER_IMPORTED
    run_id: str
    batch: int
    users: list[ImportedUser]
    counts: SliceCounts
    """Ingress's own slice (``users``): created, filled, unchanged."""


class ConversationBackfillApplied(Event):
    """Conversation wrote its slice (``conversation_state``) of a backfill batch."""

    subject: ClassVar[str] = subjects.CONVERSATION_BACKFILL_APPLIED
    run_id: str
    batch: int
    counts: SliceCounts


class Entitlement(_Part):
    """Billing's word on one caregiver's right to the AI companion (as in ``EntitlementChanged``)."""

    user_id: str
    entitled: bool
    status: str


class BillingBackfillApplied(Event):
    """Billing wrote its slice (``billing_accounts``) of a backfill batch.

    ``entitlements`` covers every account the batch created, so conversation projects them in
    one step instead of one ``EntitlementChanged`` per caregiver.
    """

    subject: ClassVar[str] = subjects.BILLING_BACKFILL_APPLIED
    run_id: str
    batch: int
    counts: SliceCounts
    entitlements: list[Entitlement] = Field(default_factory=list)


class ProfileBackfillApplied(Event):
    """Profile wrote its slice (``user_profiles``) of a backfill batch."""

    subject: ClassVar[str] = subjects.PROFILE_BACKFILL_APPLIED
    run_id: str
    batch: int
    counts: SliceCounts
