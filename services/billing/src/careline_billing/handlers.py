"""Billing's handlers: a trial for every new caregiver, Stripe events applied forward only.

Each is one transaction on the unit of work; the rules (who has access, which event is newer,
what a change owes) are in ``domain``. Job handlers read their payloads back as the models of
``careline_contracts.jobs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from careline_billing.domain import access, lifecycle
from careline_billing.domain.access import Terms
from careline_billing.integrations.stripe_gateway import BillingGateway
from careline_billing.repository import BillingUow, BillingWriter
from careline_contracts.billing import CheckoutLinkReady
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_contracts.jobs import (
    CheckoutCreateJob,
    GraceEndJob,
    SubscriptionCancelJob,
    SubscriptionSyncJob,
    TrialEndJob,
)
from careline_platform.jobs import Job
from careline_platform.uow import HasMsgId, Tx


class UnknownCustomer(Exception):
    """A subscription event for a customer no checkout linked yet: retried, then dead-lettered."""


class ProgressLog(Protocol):
    """Where a job keeps what an attempt learned before going on (the jobs store)."""

    async def record_progress(self, job: Job, **fields: Any) -> None: ...


async def on_user_registered(
    event: UserRegistered, delivery: HasMsgId, uow: BillingUow, *, terms: Terms
) -> None:
    """Every new caregiver gets a trial: access now, its end owed at the trial's end."""
    user = event.user_id
    async with uow.begin(delivery) as tx:
        end = lifecycle.trial_end(tx.now, terms.trial)
        if not await tx.repo.open_trial(user, tx.now, end):
            return
        changed, msg_id = access.entitlement_changed(
            user, "trialing", access.status_grants_access("trialing"),
            now=tx.now, correlation_id=event.correlation_id, cause_id=delivery.msg_id,
        )  # fmt: skip
        await tx.emit(changed, key=user, msg_id=msg_id)
        trial = TrialEndJob(user_id=user, correlation_id=event.correlation_id)
        await tx.schedule(trial, key=f"trial:end:{user}", run_at=end)


async def end_trial(job: Job, uow: BillingUow) -> dict[str, Any]:
    """At the trial's end: a caregiver who never subscribed loses access (and is told why later)."""
    payload = TrialEndJob.of(job.payload)
    async with uow.begin() as tx:
        ended = await tx.repo.end_trial_if_unsubscribed(payload.user_id, tx.now)
        if ended:
            changed, msg_id = access.entitlement_changed(
                payload.user_id, "none", access.status_grants_access("none"),
                now=tx.now, correlation_id=payload.correlation_id, cause_id=job.key,
            )  # fmt: skip
            await tx.emit(changed, key=payload.user_id, msg_id=msg_id)
    return {"ended": ended}


async def on_stripe_event(
    event: StripeEventReceived, delivery: HasMsgId, uow: BillingUow, *, terms: Terms
) -> None:
    """Apply a Stripe event to the caregiver's billing account, moving state only forward."""
    obj = event.data.get("object") or {}
    kind = lifecycle.kind_of(event.type)
    async with uow.begin(delivery) as tx:
        created = lifecycle.stripe_time(event.created) or tx.now
        if kind is lifecycle.Kind.CHECKOUT:
            user = obj.get("client_reference_id")
            if user:  # else not one of ours; nothing to link
                await tx.repo.link_checkout(
                    user, obj.get("customer"), obj.get("subscription"), created, tx.now
                )
        elif kind is lifecycle.Kind.SUBSCRIPTION:
            await _apply_subscription_event(tx, event, obj, created, delivery.msg_id, terms)
        elif kind is lifecycle.Kind.FACT:
            user = await tx.repo.user_for_customer(obj.get("customer"))
            if not user:
                raise UnknownCustomer(f"{event.type} before its checkout")
            await tx.repo.record_invoice_event(user, event.type, obj.get("id"), created, tx.now)


async def _apply_subscription_event(
    tx: Tx[BillingWriter],
    event: StripeEventReceived,
    obj: dict[str, Any],
    created: datetime,
    cause_id: str,
    terms: Terms,
) -> None:
    user = await tx.repo.user_for_customer(obj.get("customer")) or (obj.get("metadata") or {}).get("user_id")
    if not user:
        raise UnknownCustomer("subscription event before its checkout")
    fields = lifecycle.subscription_fields(obj, event.type)
    account = await tx.repo.find_account(user)
    fields["past_due_since"] = lifecycle.past_due_since(account, fields["status"], created)
    if lifecycle.is_tie(account, created) and obj.get("id"):
        sync = SubscriptionSyncJob(
            user_id=user, subscription_id=obj["id"], correlation_id=event.correlation_id
        )
        await tx.schedule(sync, key=f"stripe:sync:{obj['id']}:{event.event_id}", actor=user)
    before = await tx.repo.apply_subscription(user, obj.get("customer"), fields, created, tx.now)
    if before is not None:
        await _announce_change(tx, user, before, fields, cause_id, event.correlation_id, terms.grace)


async def _announce_change(
    tx: Tx[BillingWriter],
    user: str,
    before: dict[str, Any],
    fields: dict[str, Any],
    cause_id: str,
    correlation_id: str | None,
    grace: timedelta,
) -> None:
    """Owe the entitlement event if access flipped, and the grace period's end if one began."""
    flipped = access.access_flip(before, {**before, **fields}, tx.now, grace)
    if flipped is not None:
        changed, msg_id = access.entitlement_changed(
            user, str(fields["status"]), flipped, now=tx.now, correlation_id=correlation_id, cause_id=cause_id
        )
        await tx.emit(changed, key=user, msg_id=msg_id)
    since = lifecycle.grace_began(before, fields)
    if since is not None:
        end = GraceEndJob(user_id=user, since=since, correlation_id=correlation_id)
        await tx.schedule(end, key=f"grace:end:{user}:{since.isoformat()}", run_at=since + grace)


async def sync_subscription(
    job: Job, uow: BillingUow, *, gateway: BillingGateway, terms: Terms
) -> dict[str, Any]:
    """Settle what two same-second events could not: apply Stripe's current subscription."""
    payload = SubscriptionSyncJob.of(job.payload)
    fields = lifecycle.subscription_fields(await gateway.subscription(payload.subscription_id))
    async with uow.begin() as tx:
        account = await tx.repo.find_account(payload.user_id)
        fields["past_due_since"] = lifecycle.past_due_since(account, fields["status"], tx.now)
        before = await tx.repo.overwrite_subscription(payload.user_id, fields, tx.now)
        if before is not None:
            await _announce_change(
                tx, payload.user_id, before, fields, job.key, payload.correlation_id, terms.grace
            )
    return {"status": fields["status"]}


async def end_grace(job: Job, uow: BillingUow) -> dict[str, Any]:
    """A past_due spell outlived its grace period: access ends (unless the payment came through)."""
    payload = GraceEndJob.of(job.payload)
    async with uow.begin() as tx:
        still = lifecycle.grace_ends(await tx.repo.find_account(payload.user_id), payload.since)
        if still:
            changed, msg_id = access.entitlement_changed(
                payload.user_id, "past_due", False,
                now=tx.now, correlation_id=payload.correlation_id, cause_id=job.key,
            )  # fmt: skip
            await tx.emit(changed, key=payload.user_id, msg_id=msg_id)
    return {"ended": still}


async def on_checkout_requested(event: CheckoutRequested, delivery: HasMsgId, uow: BillingUow) -> None:
    """A caregiver without access wrote in: owe them a checkout link (unless access came back)."""
    async with uow.begin(delivery) as tx:
        if not access.needs_checkout(await tx.repo.find_account(event.user_id)):
            return
        checkout = CheckoutCreateJob(user_id=event.user_id, correlation_id=event.correlation_id)
        await tx.schedule(checkout, key=f"stripe:checkout:{delivery.msg_id}", actor=event.user_id)


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
        link = await gateway.create_checkout(user_id=user, idempotency_key=job.key)
        await progress.record_progress(job, session_id=link.session_id, url=link.url)
    session_id, url = job.progress["session_id"], job.progress["url"]
    async with uow.begin() as tx:
        await tx.repo.record_checkout_link(user, session_id, url, tx.now)
        ready = CheckoutLinkReady(
            occurred_at=tx.now,
            correlation_id=payload.correlation_id or job.key,
            user_id=user,
            session_id=session_id,
            url=url,
        )
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
