"""How Stripe's events move a billing account, and when a trial and a grace period end.

Stripe delivers at least once and in any order. An account keeps the ``created`` second of the
newest subscription event it applied; an older event changes nothing, a newer one wins, and
two of the same second cannot be ordered from their payloads, so Stripe's current
subscription settles them (a sync job).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

Document = dict[str, Any]


class Kind(StrEnum):
    """What a Stripe event means for billing."""

    CHECKOUT = "checkout"  # a checkout completed: link the customer to the caregiver
    SUBSCRIPTION = "subscription"  # the subscription changed: its status moves the account
    FACT = "fact"  # an invoice: kept as a fact, moves no status
    IGNORED = "ignored"  # anything else Stripe sends


FACT_FIELDS = {
    "invoice.paid": "last_invoice_paid_at",
    "invoice.payment_failed": "last_payment_failed_at",
}
"""Where each fact-only event is kept on the account."""


def kind_of(event_type: str) -> Kind:
    """``customer.subscription.trial_will_end`` carries the subscription, so it is applied as a
    subscription event (a snapshot of a trialing subscription), as it always was."""
    if event_type == "checkout.session.completed":
        return Kind.CHECKOUT
    if event_type.startswith("customer.subscription."):
        return Kind.SUBSCRIPTION
    if event_type in FACT_FIELDS:
        return Kind.FACT
    return Kind.IGNORED


def stripe_time(value: Any) -> datetime | None:
    """Stripe timestamps are seconds since the epoch; never mixed with milliseconds here."""
    return datetime.fromtimestamp(int(value), UTC) if value else None


def subscription_fields(
    sub: Mapping[str, Any], event_type: str | None = None, created: datetime | None = None
) -> Document:
    """The parts of a Stripe subscription object billing keeps; a deletion means ``canceled``.

    ``ended_at`` starts the 30 days of access after a cancellation: Stripe's own, else the
    cancellation's, else (a payload with neither) the event's ``created``."""
    items = (sub.get("items") or {}).get("data") or []
    price = (items[0].get("price") or {}).get("id") if items else None
    period_end = sub.get("current_period_end") or (items[0].get("current_period_end") if items else None)
    status = "canceled" if event_type == "customer.subscription.deleted" else sub.get("status", "none")
    return {
        "stripe_subscription_id": sub.get("id"),
        "status": status,
        "price_id": price,
        "current_period_end": stripe_time(period_end),
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
        "trial_end": stripe_time(sub.get("trial_end")),
        "canceled_at": stripe_time(sub.get("canceled_at")),
        "ended_at": (
            (stripe_time(sub.get("ended_at")) or stripe_time(sub.get("canceled_at")) or created)
            if status == "canceled"
            else None
        ),
    }


def is_newer(account: Mapping[str, Any] | None, created: datetime) -> bool:
    """Whether an event of ``created`` may apply: newest wins, the same second applies too
    (and is settled by a sync, see ``is_tie``). Mirrors the repository's guarded update."""
    last = (account or {}).get("last_event_at")
    return last is None or last <= created


def is_tie(account: Mapping[str, Any] | None, created: datetime) -> bool:
    """Two subscription events of the same second: their payloads cannot order them."""
    return account is not None and account.get("last_event_at") == created


def past_due_since(account: Mapping[str, Any] | None, status: str, at: datetime) -> datetime | None:
    """When the current past_due spell began (kept across repeated past_due events)."""
    if status != "past_due":
        return None
    if account is not None and account.get("status") == "past_due" and account.get("past_due_since"):
        since: datetime = account["past_due_since"]
        return since
    return at


def grace_began(before: Mapping[str, Any], fields: Mapping[str, Any]) -> datetime | None:
    """The start of a past_due spell this change began (its grace end is owed), or None."""
    since: datetime | None = fields.get("past_due_since")
    if since is not None and before.get("past_due_since") != since:
        return since
    return None


def to_millis(at: datetime) -> datetime:
    """``at`` as MongoDB stores it (milliseconds), so a time read back compares equal."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def grace_ends(account: Mapping[str, Any] | None, since: datetime) -> bool:
    """A grace end job ends access only if the spell it was owed for is still running: still
    past_due, since the same moment (a payment in between, or a newer spell, ends nothing)."""
    if account is None or account.get("status") != "past_due":
        return False
    current = account.get("past_due_since")
    return current is not None and to_millis(current) == to_millis(since)


def trial_end(now: datetime, trial: timedelta) -> datetime:
    return now + trial


def user_of(obj: Mapping[str, Any]) -> str | None:
    """The caregiver a subscription or invoice names in its metadata (checkout sets it on the
    subscription; an invoice carries its subscription's under ``parent.subscription_details``
    in current API versions, ``subscription_details`` in older ones)."""
    details = (obj.get("parent") or {}).get("subscription_details") or obj.get("subscription_details") or {}
    for metadata in (obj.get("metadata"), details.get("metadata")):
        if isinstance(metadata, Mapping) and metadata.get("user_id"):
            return str(metadata["user_id"])
    return None


def canceled_access_ends(account: Mapping[str, Any] | None, ended_at: datetime) -> bool:
    """A cancelled subscription's access end job ends access only if that cancellation is
    still the account's state (no new subscription since, no other cancellation)."""
    if account is None or account.get("status") != "canceled" or account.get("ended_at") is None:
        return False
    return to_millis(account["ended_at"]) == to_millis(ended_at)


def whole_days(span: timedelta) -> int:
    """Whole days in ``span``, rounded up (3 days and an hour is 4 days left: never understated)."""
    return max(0, -(-span // timedelta(days=1)))


def legacy_trial(
    status: str, end: datetime | None, subscribed: bool, now: datetime, trial: timedelta
) -> tuple[str, datetime | None, bool]:
    """A legacy account's (status, trial end, trial over): a trial with no end gets a full one;
    a trial already over with no subscription is ``none`` at once, as its end job would make it."""
    if status == "trialing" and end is None:
        end = trial_end(now, trial)
    over = status == "trialing" and end is not None and end <= now
    if over and not subscribed:
        status = "none"
    return status, end, over


ENDED = frozenset({"canceled", "incomplete_expired"})


def charges_after_erasure(status: str | None) -> bool:
    """Whether a subscription in ``status`` must be cancelled when its caregiver is erased: any
    that has not ended may charge again (a past_due one retries its payment)."""
    return status not in ENDED
