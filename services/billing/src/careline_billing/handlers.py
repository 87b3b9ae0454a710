"""Billing's handlers: a trial for every new caregiver, Stripe events applied forward only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from careline_billing.repository import BillingRepository
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_platform.clock import Clock
from careline_platform.messaging import Delivery
from careline_platform.mongo import UnitOfWork


class UnknownCustomer(Exception):
    """A subscription event for a customer no checkout linked yet: retried, then dead-lettered."""


@dataclass
class Deps:
    uow: UnitOfWork
    repo: BillingRepository
    clock: Clock
    trial_days: int


async def on_user_registered(event: UserRegistered, delivery: Delivery, deps: Deps) -> None:
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.open_trial(event.user_id, now, now + timedelta(days=deps.trial_days), session)


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
            await deps.repo.apply_subscription(user_id, obj.get("customer"), fields, created, now, session)
