"""Every subject and stream name in Careline, in one place.

Subjects follow ``<domain>.<entity>.<verb>``. Events about one caregiver are published
under a partition suffix (``sms.inbound.received.3``) so that each partition can be read
by a single in-flight consumer: that is how the actor rule holds across replicas.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

PARTITIONS = 8
"""Number of per-caregiver partitions of each user-scoped subject. Changing it re-shards."""


@dataclass(frozen=True)
class Stream:
    """A JetStream stream: its name, owner service and the subject filter it captures."""

    name: str
    owner: str
    subjects: tuple[str, ...]


# Streams, each declared by the service that owns (publishes) its subjects.
SMS = Stream("SMS", "ingress", ("sms.inbound.received.*", "sms.status.updated.*"))
STRIPE = Stream("STRIPE", "ingress", ("stripe.event.received.*",))
USERS = Stream("USERS", "ingress", ("user.registered.*", "user.imported.*"))
MIGRATION = Stream("MIGRATION", "ingress", ("migration.users.submitted.*",))
"""Legacy backfill batches: the `careline migrate` tool submits them to ingress, the edge."""
CONVERSATION = Stream("CONVERSATION", "conversation", ("conversation.>",))
BILLING = Stream("BILLING", "billing", ("billing.>",))
PROFILE = Stream("PROFILE", "profile", ("profile.>",))
DEAD_LETTERS = Stream("DEAD_LETTERS", "shared", ("deadletter.>",))
SANDBOX = Stream("SANDBOX", "conversation", ("sandbox.sms.sent",))

ALL_STREAMS = (SMS, STRIPE, USERS, MIGRATION, CONVERSATION, BILLING, PROFILE, DEAD_LETTERS, SANDBOX)

# Base subjects (without the partition suffix).
SMS_INBOUND_RECEIVED = "sms.inbound.received"
SMS_STATUS_UPDATED = "sms.status.updated"
STRIPE_EVENT_RECEIVED = "stripe.event.received"
USER_REGISTERED = "user.registered"
USER_IMPORTED = "user.imported"
MIGRATION_USERS_SUBMITTED = "migration.users.submitted"
SANDBOX_SMS_SENT = "sandbox.sms.sent"
BILLING_ENTITLEMENT_CHANGED = "billing.entitlement.changed"
BILLING_CHECKOUT_LINK_READY = "billing.checkout.link_ready"
BILLING_NOTICE_READY = "billing.notice.ready"
CONVERSATION_CRISIS_DETECTED = "conversation.crisis.detected"
CONVERSATION_FACT_LEARNED = "conversation.fact.learned"
CONVERSATION_OPTOUT_CHANGED = "conversation.optout.changed"
CONVERSATION_CHECKOUT_REQUESTED = "conversation.checkout.requested"
CONVERSATION_ASSESSMENT_REQUESTED = "conversation.assessment.requested"
CONVERSATION_ASSESSMENT_ANSWERED = "conversation.assessment.answered"
CONVERSATION_CONTACT_RECORDED = "conversation.contact.recorded"
CONVERSATION_ONBOARDING_COMPLETED = "conversation.onboarding.completed"
CONVERSATION_CHECKIN_PREFERENCE_CHANGED = "conversation.checkin_preference.changed"
CONVERSATION_LOSS_REPORTED = "conversation.loss.reported"
PROFILE_PROMPT_READY = "profile.prompt.ready"
PROFILE_CHECKIN_DUE = "profile.checkin.due"
CONVERSATION_BACKFILL_APPLIED = "conversation.backfill.applied"
BILLING_BACKFILL_APPLIED = "billing.backfill.applied"
PROFILE_BACKFILL_APPLIED = "profile.backfill.applied"
DEAD_LETTER_PREFIX = "deadletter"


def partition_of(key: str, partitions: int = PARTITIONS) -> int:
    """Stable partition number of a key (a user id, or a phone number before one exists)."""
    return zlib.crc32(key.encode()) % partitions


def partitioned(base: str, key: str, partitions: int = PARTITIONS) -> str:
    """The concrete subject for an event about ``key``."""
    return f"{base}.{partition_of(key, partitions)}"


def dead_letter_subject(service: str, base: str) -> str:
    """Where a service parks a message it gave up on."""
    return f"{DEAD_LETTER_PREFIX}.{service}.{base}"


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` is in NATS's ``pattern`` (``*`` one token, ``>`` the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def stream_of(subject: str) -> Stream | None:
    """The stream that captures ``subject`` (and so the service that may publish it), if any."""
    for stream in ALL_STREAMS:
        if any(subject_matches(pattern, subject) for pattern in stream.subjects):
            return stream
    return None
