"""Billing's handlers: a trial for every new caregiver, Stripe events applied forward only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from careline_billing.integrations.stripe_gateway import BillingGateway
from careline_billing.repository import BillingRepository
from careline_contracts import subjects
from careline_contracts.billing import CheckoutLinkReady, EntitlementChanged
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_platform.clock import Clock
from careline_platform.jobs import Job, JobStore, new_job
from careline_platform.messaging import Delivery
from careline_platform.mongo import UnitOfWork
from careline_platform.outbox import outbox_job

INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
ENTITLED_STATUSES = frozenset({"trialing", "active", "past_due"})
"""Who may use the AI companion; past_due keeps access for a grace period while Stripe retries."""


def is_entitled(status: str | None) -> bool:
    """Entitlement by status alone (past_due counts: its grace period is judged by ``entitled``)."""
    return status in ENTITLED_STATUSES


def entitled(account: Mapping[str, Any] | None, now: datetime, grace: timedelta) -> bool:
    """Entitlement of an account now: trialing or active, or past_due within its grace period."""
    status = (account or {}).get("status")
    if status == "past_due":
        since = (account or {}).get("past_due_since")
        return since is None or now < since + grace
    return is_entitled(status)


class UnknownCustomer(Exception):
    """A subscription event for a customer no checkout linked yet: retried, then dead-lettered."""


@dataclass
class Deps:
    uow: UnitOfWork
    repo: BillingRepository
    clock: Clock
    trial_days: int
    jobs: JobStore
    wake_worker: Callable[[], None]
    gateway: BillingGateway
    past_due_grace: timedelta = timedelta(days=7)


CREATE_CHECKOUT = "stripe.checkout.create"
END_TRIAL = "trial.end"
END_GRACE = "grace.end"
SYNC_SUBSCRIPTION = "stripe.subscription.sync"


async def _owe_entitlement_event(
    deps: Deps,
    user_id: str,
    status: str,
    cause_id: str,
    correlation_id: str | None,
    session: AsyncClientSession,
    *,
    is_now_entitled: bool | None = None,
) -> None:
    """Write the entitlement event to the outbox; its id names the fact (user and cause)."""
    event = EntitlementChanged(
        occurred_at=deps.clock.now(),
        correlation_id=correlation_id or cause_id,
        user_id=user_id,
        entitled=is_entitled(status) if is_now_entitled is None else is_now_entitled,
        status=status,
    )
    job = outbox_job(
        event,
        msg_id=f"entitlement:{user_id}:{cause_id}",
        key=user_id,
        stream=subjects.BILLING,
        now=event.occurred_at,
    )
    await deps.jobs.enqueue(job, session=session)


async def on_user_registered(event: UserRegistered, delivery: Delivery, deps: Deps) -> None:
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        trial_end = now + timedelta(days=deps.trial_days)
        if await deps.repo.open_trial(event.user_id, now, trial_end, session):
            await _owe_entitlement_event(
                deps, event.user_id, "trialing", delivery.msg_id, event.correlation_id, session
            )
            end = new_job(
                f"trial:end:{event.user_id}",
                END_TRIAL,
                {"user_id": event.user_id, "correlation_id": event.correlation_id},
                now=now,
                run_at=trial_end,
            )
            await deps.jobs.enqueue(end, session=session)
    deps.wake_worker()


async def end_trial(job: Job, deps: Deps) -> dict[str, Any]:
    """At the trial's end: a caregiver who never subscribed loses access (and is told why later)."""
    user_id, now = job.payload["user_id"], deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        ended = await deps.repo.end_trial_if_unsubscribed(user_id, now, session)
        if ended:
            await _owe_entitlement_event(
                deps, user_id, "none", job.key, job.payload.get("correlation_id"), session
            )
    deps.wake_worker()
    return {"ended": ended}


def _ts(value: Any) -> datetime | None:
    """Stripe timestamps are seconds since the epoch; never mixed with milliseconds here."""
    return datetime.fromtimestamp(int(value), UTC) if value else None


def subscription_fields(sub: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Stripe subscription object billing keeps."""
    items = (sub.get("items") or {}).get("data") or []
    price = (items[0].get("price") or {}).get("id") if items else None
    period_end = sub.get("current_period_end") or (items[0].get("current_period_end") if items else None)
    return {
        "stripe_subscription_id": sub.get("id"),
        "status": sub.get("status", "none"),
        "price_id": price,
        "current_period_end": _ts(period_end),
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
        "trial_end": _ts(sub.get("trial_end")),
        "canceled_at": _ts(sub.get("canceled_at")),
    }


async def on_stripe_event(event: StripeEventReceived, delivery: Delivery, deps: Deps) -> None:
    """Apply a Stripe event to the caregiver's billing account, moving state only forward."""
    now = deps.clock.now()
    obj = event.data.get("object") or {}
    created = _ts(event.created) or now
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        if event.type == "checkout.session.completed":
            user_id = obj.get("client_reference_id")
            if not user_id:
                return  # not one of ours; nothing to link
            await deps.repo.link_checkout(
                user_id, obj.get("customer"), obj.get("subscription"), created, now, session
            )
        elif event.type.startswith("customer.subscription."):
            user_id = await deps.repo.user_for_customer(obj.get("customer"), session) or (
                (obj.get("metadata") or {}).get("user_id")
            )
            if not user_id:
                raise UnknownCustomer("subscription event before its checkout")
            fields = subscription_fields(obj)
            if event.type == "customer.subscription.deleted":
                fields["status"] = "canceled"
            account = await deps.repo.find_account(user_id, session)
            fields["past_due_since"] = _past_due_since(account, fields["status"], created)
            if account is not None and account.get("last_event_at") == created and obj.get("id"):
                # two events of the same second: the payload cannot order them, Stripe can
                sync = new_job(
                    f"stripe:sync:{obj['id']}:{event.event_id}",
                    SYNC_SUBSCRIPTION,
                    {
                        "user_id": user_id,
                        "subscription_id": obj["id"],
                        "correlation_id": event.correlation_id,
                    },
                    now=now,
                    actor=user_id,
                )
                await deps.jobs.enqueue(sync, session=session)
            before = await deps.repo.apply_subscription(
                user_id, obj.get("customer"), fields, created, now, session
            )
            if before is not None:
                await _announce_change(
                    deps, user_id, before, fields, delivery.msg_id, event.correlation_id, session
                )
        elif event.type in INVOICE_EVENTS or event.type == "customer.subscription.trial_will_end":
            user_id = await deps.repo.user_for_customer(obj.get("customer"), session)
            if not user_id:
                raise UnknownCustomer(f"{event.type} before its checkout")
            await deps.repo.record_invoice_event(user_id, event.type, obj.get("id"), created, now, session)
    deps.wake_worker()


async def create_checkout(job: Job, deps: Deps) -> dict[str, Any]:
    """Create a caregiver's checkout session once, keep it, and hand the link on.

    The Stripe call carries the job's key as its idempotency key, and the link is stored in
    the job before anything else, so no retry ever opens a second session.
    """
    user_id = job.payload["user_id"]
    if "session_id" not in job.progress:
        link = await deps.gateway.create_checkout(user_id=user_id, idempotency_key=job.key)
        await deps.jobs.record_progress(job, session_id=link.session_id, url=link.url)
    session_id, url = job.progress["session_id"], job.progress["url"]
    now = deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        await deps.repo.record_checkout_link(user_id, session_id, url, now, session)
        event = CheckoutLinkReady(
            occurred_at=now,
            correlation_id=job.payload.get("correlation_id") or job.key,
            user_id=user_id,
            session_id=session_id,
            url=url,
        )
        await deps.jobs.enqueue(
            outbox_job(
                event, msg_id=f"checkout-link:{job.key}", key=user_id, stream=subjects.BILLING, now=now
            ),
            session=session,
        )
    deps.wake_worker()
    return {"session_id": session_id}


async def on_checkout_requested(event: CheckoutRequested, delivery: Delivery, deps: Deps) -> None:
    """A caregiver without access wrote in: owe them a checkout link (unless access came back)."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        account = await deps.repo.find_account(event.user_id, session)
        if account is not None and is_entitled(account.get("status")):
            return
        job = new_job(
            f"stripe:checkout:{delivery.msg_id}",
            CREATE_CHECKOUT,
            {"user_id": event.user_id, "correlation_id": event.correlation_id},
            now=now,
            actor=event.user_id,
        )
        await deps.jobs.enqueue(job, session=session)
    deps.wake_worker()


async def sync_subscription(job: Job, deps: Deps) -> dict[str, Any]:
    """Settle what two same-second events could not: apply Stripe's current subscription."""
    user_id, now = job.payload["user_id"], deps.clock.now()
    current = await deps.gateway.subscription(job.payload["subscription_id"])
    fields = subscription_fields(current)
    async with deps.uow.transaction(None, now) as session:
        account = await deps.repo.find_account(user_id, session)
        fields["past_due_since"] = _past_due_since(account, fields["status"], now)
        before = await deps.repo.overwrite_subscription(user_id, fields, now, session)
        if before is not None:
            await _announce_change(
                deps, user_id, before, fields, job.key, job.payload.get("correlation_id"), session
            )
    deps.wake_worker()
    return {"status": fields["status"]}


def _past_due_since(account: Mapping[str, Any] | None, status: str, at: datetime) -> datetime | None:
    """When the current past_due spell began (kept across repeated past_due events)."""
    if status != "past_due":
        return None
    if account is not None and account.get("status") == "past_due" and account.get("past_due_since"):
        since: datetime = account["past_due_since"]
        return since
    return at


async def _announce_change(
    deps: Deps,
    user_id: str,
    before: Mapping[str, Any],
    fields: Mapping[str, Any],
    cause_id: str,
    correlation_id: str | None,
    session: AsyncClientSession,
) -> None:
    """Owe the entitlement event if access flipped, and the grace period's end if one began."""
    now = deps.clock.now()
    after = {**before, **fields}
    was, now_entitled = entitled(before, now, deps.past_due_grace), entitled(after, now, deps.past_due_grace)
    if was != now_entitled:
        await _owe_entitlement_event(
            deps,
            user_id,
            str(fields["status"]),
            cause_id,
            correlation_id,
            session,
            is_now_entitled=now_entitled,
        )
    since = fields.get("past_due_since")
    if since is not None and before.get("past_due_since") != since:
        grace_end = new_job(
            f"grace:end:{user_id}:{since.isoformat()}",
            END_GRACE,
            {"user_id": user_id, "since": since, "correlation_id": correlation_id},
            now=now,
            run_at=since + deps.past_due_grace,
        )
        await deps.jobs.enqueue(grace_end, session=session)


async def end_grace(job: Job, deps: Deps) -> dict[str, Any]:
    """A past_due spell outlived its grace period: access ends (unless the payment came through)."""
    user_id, now = job.payload["user_id"], deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        account = await deps.repo.find_account(user_id, session)
        still = (
            account is not None
            and account.get("status") == "past_due"
            and account.get("past_due_since") == job.payload["since"]
        )
        if still:
            await _owe_entitlement_event(
                deps,
                user_id,
                "past_due",
                job.key,
                job.payload.get("correlation_id"),
                session,
                is_now_entitled=False,
            )
    deps.wake_worker()
    return {"ended": still}
