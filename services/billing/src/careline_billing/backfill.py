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

from datetime import datetime, timedelta
from typing import Any

from careline_billing.handlers import END_GRACE, END_TRIAL, Deps, entitled
from careline_contracts import subjects
from careline_contracts.migration import BillingBackfillApplied, Entitlement, ImportedUser, UsersImported
from careline_platform.backfill import insert_new, owe_confirmation, write_slices
from careline_platform.jobs import new_job
from careline_platform.messaging import Delivery
from careline_platform.uow import WriteCollection

Document = dict[str, Any]
FILLABLE_WHEN_LIVE = frozenset({"legacy_id", "stripe_customer_id"})


def billing_slice(user: ImportedUser, now: datetime, trial_days: int) -> Document:
    """The ``billing_accounts`` document a legacy caregiver would have had from this service."""
    b = user.billing
    status, trial_end = b.status, b.trial_end
    if status == "trialing" and trial_end is None:
        trial_end = now + timedelta(days=trial_days)
    ended = status == "trialing" and trial_end is not None and trial_end <= now
    if ended and b.stripe_subscription_id is None:  # what the trial's end job would do, done now
        status = "none"
    return {
        "_id": user.user_id,
        "legacy_id": user.legacy_id,
        "status": status,
        "trial_ended_at": trial_end if ended else None,
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


async def on_users_imported(event: UsersImported, delivery: Delivery, deps: Deps) -> None:
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        counts, created = await write_slices(
            WriteCollection(deps.repo.accounts, session),
            [billing_slice(u, now, deps.trial_days) for u in event.users],
            fill_stamp={"updated_at": now},
            fillable=FILLABLE_WHEN_LIVE,
        )
        jobs = [job for account in created for job in _owed_jobs(account, event.correlation_id, now, deps)]
        await insert_new(WriteCollection(deps.jobs.col, session), jobs)
        applied = BillingBackfillApplied(
            occurred_at=now,
            correlation_id=event.correlation_id,
            run_id=event.run_id,
            batch=event.batch,
            counts=counts,
            entitlements=[
                Entitlement(
                    user_id=a["_id"], entitled=entitled(a, now, deps.past_due_grace), status=a["status"]
                )
                for a in created
            ],
        )
        await owe_confirmation(deps.jobs, applied, "billing", subjects.BILLING, now, session)
    deps.wake_worker()


def _owed_jobs(account: Document, correlation_id: str, now: datetime, deps: Deps) -> list[Document]:
    """A trial's end (at once if it ended already) and a past_due spell's grace end."""
    user_id, status = account["_id"], account["status"]
    payload = {"user_id": user_id, "correlation_id": correlation_id}
    if status == "trialing" and account["trial_end"] > now:
        return [new_job(f"trial:end:{user_id}", END_TRIAL, payload, now=now, run_at=account["trial_end"])]
    if status == "past_due":
        since = account["past_due_since"]
        return [
            new_job(
                f"grace:end:{user_id}:{since.isoformat()}",
                END_GRACE,
                {**payload, "since": since},
                now=now,
                run_at=since + deps.past_due_grace,
            )
        ]
    return []
