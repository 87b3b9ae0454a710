"""Billing's slice of a legacy backfill batch: ``billing_accounts``.

A new account takes the legacy Stripe customer, subscription and status; a running trial owes
its end job, a trial that ended without a subscription is ``none`` at once (as the end job
would have made it), past_due owes its grace end. The batch's confirmation carries
the entitlement of every account it created, which conversation projects in one step (one
``EntitlementChanged`` per caregiver would make a large backfill crawl).
A live account (the caregiver texted the new line and got a trial) keeps its status and
subscription, which Stripe's own events move; only a missing Stripe customer id is filled, so
those events find the caregiver. A confirmation event counts what the batch did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_billing.domain import access, lifecycle
from careline_billing.domain.access import Terms
from careline_billing.repository import BillingUow, BillingWriter
from careline_contracts.jobs import GraceEndJob, TrialEndJob
from careline_contracts.migration import BillingBackfillApplied, Entitlement, ImportedUser, UsersImported
from careline_platform.backfill import confirmation_id
from careline_platform.uow import HasMsgId, Tx

Document = dict[str, Any]


def billing_slice(user: ImportedUser, now: datetime, terms: Terms) -> Document:
    """The ``billing_accounts`` document a legacy caregiver would have had from this service."""
    b = user.billing
    subscribed = b.stripe_subscription_id is not None
    status, trial_end, over = lifecycle.legacy_trial(b.status, b.trial_end, subscribed, now, terms.trial)
    return {
        "_id": user.user_id,
        "legacy_id": user.legacy_id,
        "status": status,
        "trial_ended_at": trial_end if over else None,
        "trial_end": trial_end,
        "stripe_customer_id": b.stripe_customer_id,
        "stripe_subscription_id": b.stripe_subscription_id,
        "current_period_end": b.current_period_end,
        "cancel_at_period_end": b.cancel_at_period_end,
        "canceled_at": b.canceled_at,
        "past_due_since": now if b.status == "past_due" else None,
        "last_event_at": None,
        "created_at": user.created_at or now,
        "updated_at": now,
        "backfilled_at": now,
    }


async def on_users_imported(
    event: UsersImported, delivery: HasMsgId, uow: BillingUow, *, terms: Terms
) -> None:
    async with uow.begin(delivery) as tx:
        slices = [billing_slice(u, tx.now, terms) for u in event.users]
        counts, created = await tx.repo.backfill(slices, tx.now)
        for account in created:
            await _owe_follow_up(tx, account, event.correlation_id, terms)
        applied = BillingBackfillApplied(
            occurred_at=tx.now,
            correlation_id=event.correlation_id,
            run_id=event.run_id,
            batch=event.batch,
            counts=counts,
            entitlements=[
                Entitlement(
                    user_id=a["_id"], entitled=access.has_access(a, tx.now, terms), status=a["status"]
                )
                for a in created
            ],
        )
        await tx.emit(applied, key=applied.run_id, msg_id=confirmation_id("billing", applied))


async def _owe_follow_up(tx: Tx[BillingWriter], account: Document, correlation_id: str, terms: Terms) -> None:
    """A running trial's end, or a past_due spell's grace end; nothing for any other account."""
    user, status = account["_id"], account["status"]
    if status == "trialing" and account["trial_end"] > tx.now:
        trial = TrialEndJob(user_id=user, correlation_id=correlation_id)
        await tx.schedule(trial, key=f"trial:end:{user}", run_at=account["trial_end"])
    elif status == "past_due":
        since = account["past_due_since"]
        grace = GraceEndJob(user_id=user, since=since, correlation_id=correlation_id)
        await tx.schedule(grace, key=f"grace:end:{user}:{since.isoformat()}", run_at=since + terms.grace)
