"""Billing's handlers: a trial for every new caregiver, Stripe events applied forward only.

Each is one transaction on the unit of work; the rules (who has access, which event is newer,
what a change owes) are in ``domain``. Job handlers read their payloads back as the models of
``careline_contracts.jobs``; the texts a notice owes are conversation's (``BillingNoticeReady``).

A Stripe event for a customer no checkout linked yet (and whose payload names no caregiver) is
parked, acknowledged at once, and applied when that customer's checkout arrives: it never holds
its partition and never goes to the dead letters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from careline_billing import notices
from careline_billing.domain import access, lifecycle
from careline_billing.domain.access import Terms
from careline_billing.integrations.stripe_gateway import BillingGateway
from careline_billing.repository import BillingUow, BillingWriter
from careline_contracts.billing import CheckoutLinkReady
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_contracts.jobs import (
    CanceledAccessEndJob,
    CheckoutCreateJob,
    GraceEndJob,
    PortalNoticeJob,
    SubscriptionCancelJob,
    SubscriptionSyncJob,
    TrialEndJob,
    TrialWarningJob,
)
from careline_platform.jobs import Job
from careline_platform.uow import HasMsgId, Tx

Document = dict[str, Any]


class ProgressLog(Protocol):
    """Where a job keeps what an attempt learned before going on (the jobs store)."""

    async def record_progress(self, job: Job, **fields: Any) -> None: ...


async def on_user_registered(
    event: UserRegistered, delivery: HasMsgId, uow: BillingUow, *, terms: Terms
) -> None:
    """Every new caregiver gets a trial: access now, a kind warning before its end, its end."""
    user = event.user_id
    async with uow.begin(delivery) as tx:
        end = lifecycle.trial_end(tx.now, terms.trial)
        if not await tx.repo.open_trial(user, tx.now, end):
            return
        changed, msg_id = access.entitlement_changed(
            user, "trialing", True, now=tx.now, correlation_id=event.correlation_id, cause_id=delivery.msg_id
        )
        await tx.emit(changed, key=user, msg_id=msg_id)
        trial = TrialEndJob(user_id=user, correlation_id=event.correlation_id)
        await tx.schedule(trial, key=f"trial:end:{user}", run_at=end)
        if terms.trial > terms.warn_before:
            warning = TrialWarningJob(user_id=user, trial_end=end, correlation_id=event.correlation_id)
            await tx.schedule(warning, key=f"trial:warning:{user}", run_at=end - terms.warn_before)


async def end_trial(job: Job, uow: BillingUow) -> dict[str, Any]:
    """At the trial's end: a caregiver who never subscribed loses access (and is told why later)."""
    payload = TrialEndJob.of(job.payload)
    async with uow.begin() as tx:
        ended = await tx.repo.end_trial_if_unsubscribed(payload.user_id, tx.now)
        if ended:
            changed, msg_id = access.entitlement_changed(
                payload.user_id, "none", False,
                now=tx.now, correlation_id=payload.correlation_id, cause_id=job.key,
            )  # fmt: skip
            await tx.emit(changed, key=payload.user_id, msg_id=msg_id)
    return {"ended": ended}


async def on_stripe_event(
    event: StripeEventReceived, delivery: HasMsgId, uow: BillingUow, *, terms: Terms
) -> None:
    """Apply a Stripe event to the caregiver's billing account, moving state only forward; an
    event for a customer billing does not know yet is parked until its checkout."""
    obj = event.data.get("object") or {}
    kind = lifecycle.kind_of(event.type)
    if kind is lifecycle.Kind.IGNORED:
        return
    async with uow.begin(delivery) as tx:
        if kind is lifecycle.Kind.CHECKOUT:
            await _apply_checkout(tx, event, obj, delivery.msg_id, terms)
            return
        user = await tx.repo.user_for_customer(obj.get("customer")) or lifecycle.user_of(obj)
        if user is None or await tx.repo.find_account(user) is None:
            await tx.repo.park_event(event.model_dump(mode="json"), obj.get("customer"), tx.now)
            return
        await _apply(tx, user, event, delivery.msg_id, terms)


async def _apply_checkout(
    tx: Tx[BillingWriter], event: StripeEventReceived, obj: Document, cause_id: str, terms: Terms
) -> None:
    """Link the customer to the caregiver, thank them, and apply what was parked for it."""
    user, customer = obj.get("client_reference_id"), obj.get("customer")
    if not user:  # not one of ours; nothing to link
        return
    created = lifecycle.stripe_time(event.created) or tx.now
    before = await tx.repo.find_account(user) or {}
    await tx.repo.link_checkout(user, customer, obj.get("subscription"), created, tx.now)
    after = await tx.repo.find_account(user) or {}
    await _announce_flags(tx, user, before, after, cause_id, event.correlation_id, terms)
    await notices.notify(
        tx, user, "thanks", f"thanks:{obj.get('id') or event.event_id}", event.correlation_id
    )
    for parked in await tx.repo.take_parked(customer):
        earlier = StripeEventReceived.model_validate(parked)
        await _apply(tx, user, earlier, f"stripe:{earlier.event_id}", terms)


async def _apply(
    tx: Tx[BillingWriter], user: str, event: StripeEventReceived, cause_id: str, terms: Terms
) -> None:
    obj = event.data.get("object") or {}
    created = lifecycle.stripe_time(event.created) or tx.now
    if lifecycle.kind_of(event.type) is lifecycle.Kind.SUBSCRIPTION:
        await _apply_subscription_event(tx, user, event, obj, created, cause_id, terms)
        return
    before = await tx.repo.record_invoice_event(user, event.type, obj.get("id"), created, tx.now)
    failed_now = event.type == "invoice.payment_failed" and before is not None
    paid_since = (before or {}).get("last_invoice_paid_at")
    customer = obj.get("customer") or (before or {}).get("stripe_customer_id")
    if failed_now and customer and (paid_since is None or paid_since < created):
        invoice = obj.get("id") or event.event_id
        portal = PortalNoticeJob(
            user_id=user, notice="payment_failed", notice_id=f"payment_failed:{invoice}",
            customer_id=customer, correlation_id=event.correlation_id,
        )  # fmt: skip
        await tx.schedule(portal, key=f"notice:payment_failed:{invoice}", actor=user)


async def _apply_subscription_event(
    tx: Tx[BillingWriter],
    user: str,
    event: StripeEventReceived,
    obj: Document,
    created: datetime,
    cause_id: str,
    terms: Terms,
) -> None:
    fields = lifecycle.subscription_fields(obj, event.type, created)
    account = await tx.repo.find_account(user)
    fields["past_due_since"] = lifecycle.past_due_since(account, fields["status"], created)
    if lifecycle.is_tie(account, created) and obj.get("id"):
        sync = SubscriptionSyncJob(
            user_id=user, subscription_id=obj["id"], correlation_id=event.correlation_id
        )
        await tx.schedule(sync, key=f"stripe:sync:{obj['id']}:{event.event_id}", actor=user)
    customer = obj.get("customer") or (account or {}).get("stripe_customer_id")
    before = await tx.repo.apply_subscription(user, customer, fields, created, tx.now)
    if before is None:
        return
    await _announce_change(tx, user, before, fields, cause_id, event.correlation_id, terms)
    trial_end = fields.get("trial_end")
    if event.type == "customer.subscription.trial_will_end" and trial_end is not None:
        await notices.owe_trial_warning(tx, user, trial_end, event.correlation_id, local=False)


async def _announce_change(
    tx: Tx[BillingWriter],
    user: str,
    before: Document,
    fields: Document,
    cause_id: str,
    correlation_id: str | None,
    terms: Terms,
) -> None:
    """Owe the entitlement event if access (or the subscription) flipped, a grace period's end
    if one began, and the cancellation's notice when the subscription ended."""
    await _announce_flags(tx, user, before, {**before, **fields}, cause_id, correlation_id, terms)
    # a grace period that is over already (a late event) ended access just now, in the
    # announcement above: its end job would announce it twice
    since = lifecycle.grace_began(before, fields)
    if since is not None and since + terms.grace > tx.now:
        end = GraceEndJob(user_id=user, since=since, correlation_id=correlation_id)
        await tx.schedule(end, key=f"grace:end:{user}:{since.isoformat()}", run_at=since + terms.grace)
    ended_at = fields.get("ended_at")
    if ended_at is not None and before.get("status") != "canceled":
        over = CanceledAccessEndJob(user_id=user, ended_at=ended_at, correlation_id=correlation_id)
        until = ended_at + terms.after_cancel
        if until > tx.now:
            await tx.schedule(over, key=f"canceled:end:{user}:{ended_at.isoformat()}", run_at=until)
            days = lifecycle.whole_days(until - tx.now)
            notice_id = f"canceled:{fields.get('stripe_subscription_id') or user}"
            await notices.notify(tx, user, "canceled", notice_id, correlation_id, days_left=days)


async def _announce_flags(
    tx: Tx[BillingWriter],
    user: str,
    before: Document,
    after: Document,
    cause_id: str,
    correlation_id: str | None,
    terms: Terms,
) -> None:
    """Owe the entitlement event when access or the subscription flag flipped (a checkout during
    the local trial starts a subscription without changing access: conversation still hears)."""
    flags = access.announcement(before, after, tx.now, terms)
    if flags is not None:
        changed, msg_id = access.entitlement_changed(
            user, str(after.get("status") or "none"), flags[0], now=tx.now,
            correlation_id=correlation_id, cause_id=cause_id, is_subscribed=flags[1],
        )  # fmt: skip
        await tx.emit(changed, key=user, msg_id=msg_id)


async def sync_subscription(
    job: Job, uow: BillingUow, *, gateway: BillingGateway, terms: Terms
) -> dict[str, Any]:
    """Settle what two same-second events could not: apply Stripe's current subscription."""
    payload = SubscriptionSyncJob.of(job.payload)
    async with uow.begin() as tx:
        fields = lifecycle.subscription_fields(
            await gateway.subscription(payload.subscription_id), None, tx.now
        )
        account = await tx.repo.find_account(payload.user_id)
        fields["past_due_since"] = lifecycle.past_due_since(account, fields["status"], tx.now)
        before = await tx.repo.overwrite_subscription(payload.user_id, fields, tx.now)
        if before is not None:
            await _announce_change(
                tx, payload.user_id, before, fields, job.key, payload.correlation_id, terms
            )
    return {"status": fields["status"]}


async def end_grace(job: Job, uow: BillingUow) -> dict[str, Any]:
    """A past_due spell outlived its grace period: access ends (unless the payment came through)."""
    payload = GraceEndJob.of(job.payload)
    async with uow.begin() as tx:
        account = await tx.repo.find_account(payload.user_id)
        still = lifecycle.grace_ends(account, payload.since)
        if still:
            changed, msg_id = access.entitlement_changed(
                payload.user_id, "past_due", False, now=tx.now, correlation_id=payload.correlation_id,
                cause_id=job.key, is_subscribed=access.subscribed(account),
            )  # fmt: skip
            await tx.emit(changed, key=payload.user_id, msg_id=msg_id)
    return {"ended": still}


async def end_canceled_access(job: Job, uow: BillingUow) -> dict[str, Any]:
    """Thirty days after a subscription ended, access ends (unless the caregiver subscribed again)."""
    payload = CanceledAccessEndJob.of(job.payload)
    async with uow.begin() as tx:
        still = lifecycle.canceled_access_ends(await tx.repo.find_account(payload.user_id), payload.ended_at)
        if still:
            changed, msg_id = access.entitlement_changed(
                payload.user_id, "canceled", False,
                now=tx.now, correlation_id=payload.correlation_id, cause_id=job.key,
            )  # fmt: skip
            await tx.emit(changed, key=payload.user_id, msg_id=msg_id)
    return {"ended": still}


async def on_checkout_requested(
    event: CheckoutRequested, delivery: HasMsgId, uow: BillingUow, *, terms: Terms
) -> None:
    """A caregiver without access wrote in, or asked (BILLING, ANNUAL).

    A subscription that still charges gets the billing portal (BILLING: to manage it; a
    past_due one past its grace: to update the card, never a second subscription); anyone else
    a checkout link for the plan asked, with the text that fits their situation.
    """
    user = event.user_id
    async with uow.begin(delivery) as tx:
        account = await tx.repo.find_account(user)
        if not event.asked and not access.needs_checkout(account, tx.now, terms):
            return
        customer = (account or {}).get("stripe_customer_id")
        if customer and access.subscribed(account):
            notice = "portal" if event.asked else "payment_overdue"
            portal = PortalNoticeJob(
                user_id=user, notice=notice, notice_id=f"{notice}:{delivery.msg_id}",
                customer_id=customer, correlation_id=event.correlation_id,
            )  # fmt: skip
            await tx.schedule(portal, key=f"notice:{notice}:{delivery.msg_id}", actor=user)
            return
        situation = "asked" if event.asked else access.situation(account)
        checkout = CheckoutCreateJob(
            user_id=user, correlation_id=event.correlation_id, situation=situation, plan=event.plan
        )
        await tx.schedule(checkout, key=f"stripe:checkout:{delivery.msg_id}", actor=user)


async def create_checkout(
    job: Job, uow: BillingUow, *, gateway: BillingGateway, progress: ProgressLog
) -> dict[str, Any]:
    """Create a caregiver's checkout session once, keep it, and hand the link on.

    The Stripe call carries the job's key as its idempotency key, and the link is stored in
    the job before anything else, so no retry ever opens a second session.
    """
    payload = CheckoutCreateJob.of(job.payload)
    user = payload.user_id
    if "session_id" not in job.progress:
        link = await gateway.create_checkout(user_id=user, idempotency_key=job.key, plan=payload.plan)
        await progress.record_progress(job, session_id=link.session_id, url=link.url)
    session_id, url = job.progress["session_id"], job.progress["url"]
    async with uow.begin() as tx:
        await tx.repo.record_checkout_link(user, session_id, url, tx.now)
        ready = CheckoutLinkReady(
            occurred_at=tx.now, correlation_id=payload.correlation_id or job.key, user_id=user,
            session_id=session_id, url=url, situation=payload.situation, plan=payload.plan,
        )  # fmt: skip
        await tx.emit(ready, key=user, msg_id=f"checkout-link:{job.key}")
    return {"session_id": session_id}


async def owe_subscription_cancel(tx: Tx[BillingWriter], user_id: str, erased: dict[str, Any]) -> None:
    """An erased caregiver's subscription is cancelled (a job: Stripe may be away), unless it
    has ended already; the erasure's commit owes it."""
    subscription = erased.get("subscription_id")
    if subscription is None or not lifecycle.charges_after_erasure(erased.get("subscription_status")):
        return
    cancel = SubscriptionCancelJob(user_id=user_id, subscription_id=subscription)
    await tx.schedule(cancel, key=f"erase:stripe:cancel:{subscription}")


async def cancel_subscription(job: Job, *, gateway: BillingGateway) -> dict[str, Any]:
    """Cancel the subscription of an erased caregiver at Stripe (idempotent under the job's key)."""
    payload = SubscriptionCancelJob.of(job.payload)
    status = await gateway.cancel_subscription(payload.subscription_id, idempotency_key=job.key)
    return {"subscription_status": status}
