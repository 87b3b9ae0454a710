"""Who may use the AI companion, and when a change of account owes an entitlement event.

Four questions, four names:

- ``status_grants_access(status)``: by status alone (trialing, active, past_due). A new trial
  needs no clock: past_due still counts, its grace judged elsewhere.
- ``has_access(account, now, terms)``: an account's access now, grace periods included: a
  past_due spell keeps access ``terms.grace`` (7 days), a cancelled subscription
  ``terms.after_cancel`` (30 days) after it ended. What the entitlement events report.
- ``needs_checkout(account, now, terms)``: a caregiver who wrote in without access is owed a
  link; ``situation`` says which text it comes with (a trial that ended is not a lapsed
  subscription, nor a card that failed).
- ``subscribed(account)``: whether a Stripe subscription may still charge the caregiver (what a
  STOP confirmation must warn about).

(Conversation keeps a projection of the flags these events carry; that is a fifth meaning,
the projection's, named there.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from careline_contracts.billing import EntitlementChanged

ACCESS_STATUSES = frozenset({"trialing", "active", "past_due"})
"""Who may use the AI companion by status; past_due keeps access for a grace period while Stripe
retries, and a cancelled subscription keeps it for a while after it ended (``has_access``)."""

CHARGING_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid"})
"""Statuses of a Stripe subscription that will charge (or retry a charge) unless cancelled; an
``incomplete`` one never charged and expires on its own."""

Situation = Literal["new", "lapsed", "payment", "incomplete"]


@dataclass(frozen=True)
class Terms:
    """How long a trial and the grace periods last, and when a trial's end is announced."""

    trial: timedelta = timedelta(days=14)
    grace: timedelta = timedelta(days=7)
    """A past_due subscription keeps access this long after the first failed payment."""
    after_cancel: timedelta = timedelta(days=30)
    """A cancelled subscription keeps access this long after it ended."""
    warn_before: timedelta = timedelta(days=3)
    """The kind warning goes out this long before a trial ends."""


def status_grants_access(status: str | None) -> bool:
    """Access by status alone: past_due counts (its grace period is judged by ``has_access``)."""
    return status in ACCESS_STATUSES


def access_until(account: Mapping[str, Any] | None, terms: Terms) -> datetime | None:
    """When a grace period ends: a past_due spell's or a cancelled subscription's; None if the
    account is in neither (or the moment is unknown)."""
    account = account or {}
    status = account.get("status")
    if status == "past_due" and account.get("past_due_since") is not None:
        since: datetime = account["past_due_since"]
        return since + terms.grace
    if status == "canceled":
        ended = account.get("ended_at") or account.get("canceled_at")
        return ended + terms.after_cancel if ended is not None else None
    return None


def has_access(account: Mapping[str, Any] | None, now: datetime, terms: Terms) -> bool:
    """An account's access now: trialing or active, or past_due or cancelled within its grace."""
    status = (account or {}).get("status")
    if status == "past_due":
        until = access_until(account, terms)
        return until is None or now < until
    if status == "canceled":
        until = access_until(account, terms)
        return until is not None and now < until
    return status_grants_access(status)


def days_left(account: Mapping[str, Any] | None, now: datetime, terms: Terms) -> int | None:
    """Whole days (rounded up) until a grace period ends, or None outside one."""
    until = access_until(account, terms)
    if until is None or until <= now:
        return None
    return -((now - until) // timedelta(days=1))


def needs_checkout(account: Mapping[str, Any] | None, now: datetime, terms: Terms) -> bool:
    """A caregiver who wrote in is owed a link unless they have access now: a past_due
    caregiver past the grace period is owed one (their card is still failing), as is an unknown
    account (registration still on its way: the link is harmless and the caregiver asked)."""
    return not has_access(account, now, terms)


def situation(account: Mapping[str, Any] | None) -> Situation:
    """Which text a link to a caregiver without access comes with: a trial that ended (``new``),
    a subscription that ended (``lapsed``), a payment that keeps failing (``payment``), or a
    first payment never completed (``incomplete``). Never "your trial has ended" to a subscriber."""
    status = (account or {}).get("status")
    if status in ("past_due", "unpaid"):
        return "payment"
    if status in ("incomplete", "incomplete_expired"):
        return "incomplete"
    if status == "canceled" or (account or {}).get("stripe_subscription_id"):
        return "lapsed"
    return "new"


def subscribed(account: Mapping[str, Any] | None) -> bool:
    """Whether a Stripe subscription may still charge the caregiver (a local trial never does)."""
    account = account or {}
    return bool(account.get("stripe_subscription_id")) and account.get("status") in CHARGING_STATUSES


def access_flip(
    before: Mapping[str, Any], after: Mapping[str, Any], now: datetime, terms: Terms
) -> bool | None:
    """The access an entitlement event must announce when a change flipped it; None if it did not."""
    was, is_now = has_access(before, now, terms), has_access(after, now, terms)
    return is_now if was != is_now else None


def announcement(
    before: Mapping[str, Any], after: Mapping[str, Any], now: datetime, terms: Terms
) -> tuple[bool, bool] | None:
    """(access, subscribed) when a change flipped either, so conversation's projection follows;
    None when neither moved."""
    flags_before = (has_access(before, now, terms), subscribed(before))
    flags_after = (has_access(after, now, terms), subscribed(after))
    return flags_after if flags_after != flags_before else None


def entitlement_changed(
    user_id: str,
    status: str,
    access: bool,
    *,
    now: datetime,
    correlation_id: str | None,
    cause_id: str,
    is_subscribed: bool = False,
) -> tuple[EntitlementChanged, str]:
    """The entitlement event owed, and its message id: it names the fact (user and cause), so
    the same cause handled twice owes it once."""
    event = EntitlementChanged(
        occurred_at=now,
        correlation_id=correlation_id or cause_id,
        user_id=user_id,
        entitled=access,
        status=status,
        subscribed=is_subscribed,
    )
    return event, f"entitlement:{user_id}:{cause_id}"
