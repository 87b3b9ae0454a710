"""From one legacy ``users`` document to a validated :class:`LegacyUser`, or a reason it is not one.

Tolerant where the legacy data is merely untidy (a date in any of its formats, a ZIP stored as
a number, a band spelled in capitals: normalised, or dropped to empty when it cannot be read);
strict only where a caregiver cannot be keyed: no legacy id, or no phone number that normalises
to E.164. Bands are recomputed from the score when there is one (the original's band names did
not always match its scores).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from careline_contracts.migration import (
    MAX_ASSESSMENTS,
    MAX_RECENT_MESSAGES,
    LegacyAssessment,
    LegacyBilling,
    LegacyConversation,
    LegacyMessage,
    LegacyProfile,
    LegacyUser,
)
from careline_platform.admin_tokens import ROLES
from careline_platform.phone import InvalidPhoneNumber, to_e164

Document = dict[str, Any]
RELATIONSHIPS = {
    "spouse": ("spouse", "husband", "wife", "partner"),
    "parent": ("parent", "mom", "mother", "dad", "father"),
    "child": ("child", "son", "daughter"),
}
PHASES = ("onboarding", "active", "maintenance", "crisis_support", "churned")
ZONES = ("emotional", "physical", "social", "financial", "time")
STATUS_ALIASES = {"trial": "trialing", "cancelled": "canceled", "": "none"}
STATUSES = ("trialing", "active", "past_due", "canceled", "incomplete", "unpaid", "none")
TRUE_WORDS = ("true", "yes", "1", "y")


@dataclass(frozen=True)
class Rejected:
    """A document the backfill does not write: ``invalid`` (cannot be keyed) or ``skipped`` (on purpose)."""

    kind: str
    reason: str


def band_for(score: float) -> str:
    """The burnout band of a 0-100 score (higher is more burnout)."""
    if score >= 80:
        return "crisis"
    if score >= 60:
        return "high"
    if score >= 40:
        return "moderate"
    if score >= 20:
        return "mild"
    return "thriving"


def parse_when(value: Any) -> datetime | None:
    """A legacy timestamp: epoch milliseconds or seconds (number or digits), ISO 8601, or US dates."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 100_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        for parse in (datetime.fromisoformat, lambda t: datetime.strptime(t, "%m/%d/%Y")):
            try:
                parsed = parse(text)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _text(value: Any, limit: int = 200) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = " ".join(str(value).split())[:limit]
        return text or None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is not a number we keep


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value) if isinstance(value, bool | int) else False


def _zip(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
        return f"{value:05d}"  # stored as a number, its leading zero lost
    text = _text(value)
    if text is None:
        return None
    head = text.split("-")[0]
    return head if len(head) == 5 and head.isdigit() else None


def _time_zone(value: Any) -> str | None:
    text = _text(value, 64)
    if text is None or "/" not in text:
        return None
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return text


def _relationship(value: Any) -> str | None:
    text = (_text(value) or "").lower()
    if not text:
        return None
    return next((kind for kind, words in RELATIONSHIPS.items() if text in words), "other")


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [w.strip().lower() for w in value.split(",") if w.strip()]
    if isinstance(value, list):
        return [w.strip().lower() for w in value if isinstance(w, str) and w.strip()]
    return []


def _assessments(value: Any) -> list[LegacyAssessment]:
    found = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        at, score = parse_when(item.get("completedAt")), _number(item.get("score"))
        if at is None or score is None or not 0 <= score <= 100:
            continue
        found.append(LegacyAssessment(completed_at=at, score=score, band=band_for(score)))
    return sorted(found, key=lambda a: a.completed_at)[-MAX_ASSESSMENTS:]


def _messages(value: Any) -> list[LegacyMessage]:
    found = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        role = str(item.get("role") or item.get("direction") or "").lower()
        direction = {"user": "in", "inbound": "in", "assistant": "out", "outbound": "out"}.get(role)
        text = item.get("content", item.get("body", item.get("text")))
        at = parse_when(item.get("timestamp", item.get("at")))
        if direction is None or not isinstance(text, str) or at is None:
            continue
        found.append(LegacyMessage(dir=direction, text=text[:1600], at=at))
    return found[-MAX_RECENT_MESSAGES:]


def _profile(doc: Document) -> LegacyProfile:
    score = _number(doc.get("burnoutScore"))
    if score is not None and not 0 <= score <= 100:
        score = None
    band = band_for(score) if score is not None else None
    if band is None and str(doc.get("burnoutBand") or "").lower() in (
        "crisis",
        "high",
        "moderate",
        "mild",
        "thriving",
    ):
        band = str(doc["burnoutBand"]).lower()
    phase = str(doc.get("journeyPhase") or "").lower()
    name = _text(doc.get("firstName") or doc.get("preferredName"), 50)
    return LegacyProfile(
        first_name=name.title() if name and name.isupper() else name,
        relationship=_relationship(doc.get("relationship")),
        zip=_zip(doc.get("zipCode")),
        time_zone=_time_zone(doc.get("timezone")),
        journey_phase=phase if phase in PHASES else None,
        burnout_score=score,
        burnout_band=band,
        pressure_zones=[z for z in dict.fromkeys(_words(doc.get("pressureZones"))) if z in ZONES],
        last_contact_at=parse_when(doc.get("lastContactAt")),
        assessments=_assessments(doc.get("assessmentHistory")),
    )


def _conversation(doc: Document) -> LegacyConversation:
    count = _number(doc.get("totalInteractionCount"))
    return LegacyConversation(
        recent_messages=_messages(doc.get("recentMessages")),
        summary=_text(doc.get("historicalSummary"), 2000),
        opted_out=_flag(doc.get("smsOptOut")),
        total_interactions=int(count) if count is not None and count >= 0 else 0,
        started_at=parse_when(doc.get("conversationStartDate")),
        last_inbound_at=parse_when(doc.get("lastInboundAt")),
    )


def _billing(doc: Document) -> LegacyBilling:
    status = str(doc.get("subscriptionStatus") or "").strip().lower()
    status = STATUS_ALIASES.get(status, status)
    customer, subscription = _text(doc.get("stripeCustomerId")), _text(doc.get("stripeSubscriptionId"))
    return LegacyBilling(
        stripe_customer_id=customer if customer and customer.startswith("cus_") else None,
        stripe_subscription_id=subscription if subscription and subscription.startswith("sub_") else None,
        status=status if status in STATUSES else "none",
        trial_end=parse_when(doc.get("trialEndsAt")),
        current_period_end=parse_when(doc.get("currentPeriodEnd")),
        canceled_at=parse_when(doc.get("canceledAt")),
        cancel_at_period_end=_flag(doc.get("cancelAtPeriodEnd")),
    )


def _phone(text: str) -> str:
    """E.164; without a country prefix only a full North American number (10 or 11 digits) will do:
    a seven-digit local number in the export has lost its area code."""
    digits = sum(c.isdigit() for c in text)
    if not text.strip().startswith(("+", "00")) and digits not in (10, 11):
        raise InvalidPhoneNumber("not a phone number")
    return to_e164(text)


def to_legacy_user(doc: Any) -> LegacyUser | Rejected:
    """Validate and normalise one legacy document."""
    if not isinstance(doc, dict):
        return Rejected("invalid", "not a document")
    legacy_id = _text(doc.get("_id"), 128)
    if legacy_id is None:
        return Rejected("invalid", "missing _id")
    if doc.get("deletedAt") not in (None, "", 0):
        return Rejected("skipped", "deleted in the legacy system")
    raw_phone = doc.get("phoneNumber") or doc.get("phone")
    if raw_phone is None or raw_phone == "":
        return Rejected("invalid", "missing phone number")
    try:
        phone = _phone(str(raw_phone))
    except InvalidPhoneNumber:
        return Rejected("invalid", "phone number not normalisable to E.164")
    email = _text(doc.get("email"), 254)
    try:
        return LegacyUser(
            legacy_id=legacy_id,
            phone=phone,
            email=email if email and "@" in email else None,
            roles=[r for r in dict.fromkeys(_words(doc.get("roles"))) if r in ROLES],
            created_at=parse_when(doc.get("createdAt") or doc.get("_creationTime")),
            updated_at=parse_when(doc.get("updatedAt")),
            profile=_profile(doc),
            conversation=_conversation(doc),
            billing=_billing(doc),
        )
    except ValidationError as exc:  # a value the normalisers let through but the contract refuses
        return Rejected("invalid", f"invalid field {'.'.join(str(p) for p in exc.errors()[0]['loc'])}")
