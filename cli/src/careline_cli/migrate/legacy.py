"""The legacy ``users`` document (117 fields) and a generator of realistic, messy ones.

The original app kept identity, profile, burnout, conversation and billing state in one
document per caregiver. Exports of it are untidy: fields missing, phone numbers in every
format, dates as ISO strings, epoch seconds or milliseconds, numbers as strings. The generator
reproduces that, deterministically from a seed, for tests and benchmarks.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

IDENTITY = (
    "_id", "_creationTime", "name", "email", "emailVerificationTime", "phone", "phoneNumber",
    "phoneVerificationTime", "image", "isAnonymous", "roles", "createdAt", "updatedAt", "deletedAt",
)  # fmt: skip
PROFILE = (
    "firstName", "lastName", "preferredName", "relationship", "careRecipientName", "careRecipientAge",
    "careRecipientCondition", "zipCode", "city", "state", "timezone", "languagePreference", "journeyPhase",
    "onboardingStep", "onboardingAttempts", "onboardingCompletedAt", "profileCompleteness", "referralSource",
    "caregivingDuration", "hoursPerWeek", "livesWithRecipient", "workStatus",
)  # fmt: skip
BURNOUT = (
    "burnoutScore", "burnoutBand", "burnoutConfidence", "pressureZones", "pressureZoneScores",
    "lastAssessmentAt", "assessmentHistory", "assessmentInProgress", "assessmentType", "assessmentSessionId",
    "assessmentCurrentQuestion", "assessmentResponses", "assessmentStartedAt", "emotionalScore",
    "physicalScore", "socialScore", "financialScore", "timeScore", "previousBurnoutScore", "burnoutTrend",
)  # fmt: skip
CONVERSATION = (
    "recentMessages", "historicalSummary", "historicalSummaryVersion", "historicalSummaryTokenUsage",
    "conversationStartDate", "totalInteractionCount", "lastMessageAt", "lastInboundAt", "lastOutboundAt",
    "lastContactAt", "smsOptOut", "optOutAt", "optInAt", "lastKeyword", "rateLimitCount",
    "rateLimitWindowStart", "dailyMessageCount", "dailyMessageDate", "crisisFlag", "lastCrisisAt",
    "crisisFollowUpDue", "lastProactiveMessageAt", "proactiveMessageCount", "reengagementStage",
    "agentContext",
)  # fmt: skip
BILLING = (
    "stripeCustomerId", "stripeSubscriptionId", "stripePriceId", "subscriptionStatus", "subscriptionPlan",
    "subscriptionStartedAt", "currentPeriodStart", "currentPeriodEnd", "cancelAtPeriodEnd", "canceledAt",
    "trialStartedAt", "trialEndsAt", "trialUsed", "gracePeriodEndsAt", "lastPaymentAt",
    "lastPaymentFailedAt", "paymentFailureCount", "checkoutSessionId", "checkoutUrl", "checkoutCreatedAt",
    "billingEmail", "couponCode",
)  # fmt: skip
PREFERENCES = (
    "checkinFrequency", "checkinPreferredTime", "quietHoursStart", "quietHoursEnd", "notificationsEnabled",
    "lastCheckinAt", "nextCheckinAt", "checkinStreak", "resourcesViewed", "favoriteResources",
    "feedbackScore", "npsScore", "appVersion", "migrationVersion",
)  # fmt: skip
LEGACY_FIELDS = IDENTITY + PROFILE + BURNOUT + CONVERSATION + BILLING + PREFERENCES
"""Every field of the legacy document; the backfill reads about forty of them."""

FIRST_NAMES = ("Maria", "James", "Aisha", "Wei", "Olga", "Carlos", "Priya", "Tom", "Fatima", "Grace", "José")
RELATIONSHIPS = ("Mom", "mother", "parent", "Dad", "husband", "wife", "spouse", "partner", "son",
                 "daughter", "child", "grandmother", "neighbor", "friend", "", None)  # fmt: skip
ZIPS = ("94110", "10001", "60614", "73301", "02139", 2139, "98101-1234", "3021", "ABCDE", "", None)
TIMEZONES = ("America/Los_Angeles", "America/New_York", "America/Chicago", "US/Eastern", "PST", "", None)
BANDS = ("crisis", "high", "moderate", "mild", "thriving", "Severe", "HIGH", "low", None)
ZONES = ("emotional", "physical", "social", "financial", "time", "sleep")
STATUSES = ("active", "trialing", "trial", "past_due", "canceled", "cancelled", "incomplete", "unpaid",
            "Active", "none", "", None, "paused")  # fmt: skip
PHRASES = ("Mom had a rough night", "thank you", "I'm so tired", "check in", "ok", "STOP",
           "How are you holding up today?", "That sounds hard. You are doing a lot.", "yes")  # fmt: skip
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


def _phone(rng: random.Random, n: int) -> Any:
    """Mostly valid US numbers in many spellings; some that cannot be a phone number."""
    area, mid, last = 200 + n % 700, 200 + (n // 700) % 700, n % 10000
    roll = rng.random()
    if roll < 0.005:
        return None
    if roll < 0.03:
        return rng.choice(["555-0101", "n/a", "", "+0 000", "call me", "12"])
    return rng.choice(
        [
            f"+1{area}{mid}{last:04d}",
            f"({area}) {mid}-{last:04d}",
            f"{area}.{mid}.{last:04d}",
            f"1{area}{mid}{last:04d}",
            f"+1 {area} {mid} {last:04d}",
            int(f"{area}{mid}{last:04d}"),
            f"{area}-{mid}-{last:04d}",
        ]
    )


def _when(rng: random.Random, at: datetime) -> Any:
    """A date as the legacy code wrote it that day: ms, seconds, ISO with or without zone, US style."""
    return rng.choice(
        [
            int(at.timestamp() * 1000),
            int(at.timestamp() * 1000),
            int(at.timestamp()),
            at.isoformat(),
            at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            at.strftime("%Y-%m-%d"),
            at.strftime("%m/%d/%Y"),
            str(int(at.timestamp() * 1000)),
        ]
    )


def _messages(rng: random.Random, start: datetime, count: int) -> list[Any]:
    out: list[Any] = []
    for i in range(count):
        at = start + timedelta(hours=i * rng.randint(1, 30))
        inbound = i % 2 == 0
        out.append(
            rng.choice(
                [
                    {
                        "role": "user" if inbound else "assistant",
                        "content": rng.choice(PHRASES),
                        "timestamp": _when(rng, at),
                    },
                    {
                        "direction": "inbound" if inbound else "outbound",
                        "body": rng.choice(PHRASES),
                        "at": _when(rng, at),
                    },
                    {"role": "system", "content": "[context]", "timestamp": _when(rng, at)},
                    "not a message",
                ]
            )
        )
    return out


def legacy_user(rng: random.Random, n: int) -> dict[str, Any]:
    """One legacy document: every field present, values as messy as the original's."""
    created = EPOCH + timedelta(minutes=rng.randint(0, 900_000))
    updated = created + timedelta(days=rng.randint(0, 400))
    score: Any = rng.choice(
        [rng.randint(0, 100), round(rng.uniform(0, 100), 1), str(rng.randint(0, 100)), None, "n/a", 140]
    )
    history = [
        rng.choice([
            {
                "completedAt": _when(rng, created + timedelta(days=7 * i)),
                "score": rng.randint(0, 100),
                "band": rng.choice(BANDS),
            },
            {"completedAt": "sometime", "score": "high"},
        ])
        for i in range(rng.randint(0, 5))
    ]  # fmt: skip
    status = rng.choice(STATUSES)
    paying = status not in (None, "", "none")
    name = rng.choice(FIRST_NAMES)
    doc: dict[str, Any] = {field: None for field in LEGACY_FIELDS}
    doc.update(
        {
            "_id": f"legacy_{n:07d}",
            "_creationTime": created.timestamp() * 1000,
            "name": f"{name} {rng.choice(['Lee', 'Garcia', 'Smith', 'Nguyen'])}",
            "email": rng.choice([f"caregiver{n}@example.org", "", None, "not-an-email"]),
            "phone": None,
            "phoneNumber": _phone(rng, n),
            "isAnonymous": False,
            "roles": rng.choice([[], [], None, ["user", "beta"], "user"])
            if rng.random() < 0.98
            else rng.choice([["support"], "support,admin"]),
            "createdAt": _when(rng, created),
            "updatedAt": _when(rng, updated),
            "deletedAt": _when(rng, updated) if rng.random() < 0.01 else None,
            "firstName": rng.choice([name, name.upper(), f"  {name} ", "", None]),
            "lastName": "Lee",
            "relationship": rng.choice(RELATIONSHIPS),
            "careRecipientName": "Rosa",
            "careRecipientAge": rng.choice([82, "79", None]),
            "zipCode": rng.choice(ZIPS),
            "timezone": rng.choice(TIMEZONES),
            "journeyPhase": rng.choice(
                ["onboarding", "active", "maintenance", "crisis_support", "churned", "Active", "lost", None]
            ),
            "onboardingStep": rng.randint(0, 4),
            "onboardingAttempts": rng.choice([0, 1, 2, "2"]),
            "burnoutScore": score,
            "burnoutBand": rng.choice(BANDS),
            "pressureZones": rng.choice([rng.sample(ZONES, rng.randint(0, 3)), "emotional, time", None, []]),
            "pressureZoneScores": {z: rng.randint(0, 100) for z in ZONES[:5]},
            "lastAssessmentAt": _when(rng, updated),
            "assessmentHistory": history,
            "emotionalScore": rng.randint(0, 100),
            "recentMessages": rng.choice([_messages(rng, created, rng.randint(0, 16)), None, []]),
            "historicalSummary": rng.choice(
                ["Caregiver for mother with dementia; night-time stress.", "", None]
            ),
            "conversationStartDate": _when(rng, created),
            "totalInteractionCount": rng.choice([rng.randint(0, 500), str(rng.randint(0, 50)), None, -3]),
            "lastInboundAt": _when(rng, updated),
            "lastContactAt": _when(rng, updated),
            "smsOptOut": rng.choice([False, False, False, True, "true", "no", 0, 1, None]),
            "stripeCustomerId": f"cus_L{n:08d}" if paying else rng.choice([None, "", "pending"]),
            "stripeSubscriptionId": f"sub_L{n:08d}" if paying else None,
            "subscriptionStatus": status,
            "subscriptionPlan": rng.choice(["monthly", "annual", None]),
            "currentPeriodEnd": _when(rng, updated + timedelta(days=30)),
            "cancelAtPeriodEnd": rng.choice([False, True, "false", None]),
            "canceledAt": _when(rng, updated) if status in ("canceled", "cancelled") else None,
            "trialEndsAt": _when(rng, created + timedelta(days=14)),
            "checkinFrequency": rng.choice(["daily", "weekly", None]),
            "appVersion": rng.choice(["2.3.1", "3.0.0"]),
            "migrationVersion": 3,
        }
    )
    droppable = [f for f in LEGACY_FIELDS if f not in ("_id", "phoneNumber")]
    for field in rng.sample(droppable, rng.choice([0, 0, 0, 2, 10, 40])):  # exports dropped fields
        doc.pop(field, None)
    return doc


def generate(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """``count`` legacy documents, the same for the same seed; about 1% repeat an earlier phone."""
    rng = random.Random(seed)
    earlier: list[Any] = []
    for n in range(count):
        doc = legacy_user(rng, n)
        if earlier and rng.random() < 0.01:
            doc["phoneNumber"] = rng.choice(earlier)
        if "phoneNumber" in doc:
            earlier.append(doc["phoneNumber"])
        yield doc


def write_jsonl(path: Path, docs: Iterator[dict[str, Any]], *, garbage_every: int = 0) -> int:
    """Write documents as JSON lines; ``garbage_every`` > 0 adds a broken line now and then."""
    written = 0
    with path.open("w") as out:
        for i, doc in enumerate(docs):
            if garbage_every and i and i % garbage_every == 0:
                out.write('{"_id": "broken", "phoneNumber": \n')
            out.write(json.dumps(doc) + "\n")
            written += 1
    return written
