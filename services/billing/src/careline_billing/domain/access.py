"""Who may use the AI companion, and when a change of account owes an entitlement event.

Three questions, three names:

- ``status_grants_access(status)``: by status alone (trialing, active, past_due). A new trial
  and a checkout decision need no clock: past_due still counts, its grace judged elsewhere.
- ``has_access(account, now, grace)``: an account's access now, a past_due spell's grace
  period included. What the entitlement events report.
- ``needs_checkout(account)``: a caregiver who wrote in without access is owed a checkout link.

(Conversation keeps a projection of the flag these events carry; that is a fourth meaning,
the projection's, named there.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from careline_contracts.billing import EntitlementChanged

ACCESS_STATUSES = frozenset({"trialing", "active", "past_due"})
"""Who may use the AI companion; past_due keeps access for a grace period while Stripe retries."""


@dataclass(frozen=True)
class Terms:
    """How long a trial and a past_due grace period last (from the settings)."""

    trial: timedelta = timedelta(days=14)
    grace: timedelta = timedelta(days=7)


def status_grants_access(status: str | None) -> bool:
    """Access by status alone: past_due counts (its grace period is judged by ``has_access``)."""
    return status in ACCESS_STATUSES


def has_access(account: Mapping[str, Any] | None, now: datetime, grace: timedelta) -> bool:
    """An account's access now: trialing or active, or past_due within its grace period."""
    status = (account or {}).get("status")
    if status == "past_due":
        since = (account or {}).get("past_due_since")
        return since is None or now < since + grace
    return status_grants_access(status)


def needs_checkout(account: Mapping[str, Any] | None) -> bool:
    """A caregiver who wrote in is owed a checkout link unless their status grants access.

    An unknown account (registration still on its way) is owed one: the link is harmless and
    the caregiver asked. A past_due caregiver is not: Stripe is still retrying their card.
    """
    return account is None or not status_grants_access(account.get("status"))


def access_flip(
    before: Mapping[str, Any], after: Mapping[str, Any], now: datetime, grace: timedelta
) -> bool | None:
    """The access an entitlement event must announce when a change flipped it; None if it did not."""
    was, is_now = has_access(before, now, grace), has_access(after, now, grace)
    return is_now if was != is_now else None


def entitlement_changed(
    user_id: str, status: str, access: bool, *, now: datetime, correlation_id: str | None, cause_id: str
) -> tuple[EntitlementChanged, str]:
    """The entitlement event owed, and its message id: it names the fact (user and cause), so
    the same cause handled twice owes it once."""
    event = EntitlementChanged(
        occurred_at=now,
        correlation_id=correlation_id or cause_id,
        user_id=user_id,
        entitled=access,
        status=status,
    )
    return event, f"entitlement:{user_id}:{cause_id}"
