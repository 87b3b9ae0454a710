"""Stripe through its official SDK: checkout sessions, billing portal sessions and subscription
lookups.

Two plans, two prices: ``monthly`` ($9.99) and ``annual`` ($99); a checkout is for one of them
(Stripe Checkout cannot mix a monthly and a yearly price in one subscription). A caregiver with
a Stripe customer manages the subscription (card, plan, cancellation) in Stripe's customer
portal; its sessions are short-lived, so one is created whenever a link is texted
(https://docs.stripe.com/api/customer_portal/sessions/create), and BILLING gets a fresh one.

Every call that creates something carries an idempotency key (the job's key), so a retry
after a lost answer gets Stripe's stored answer back instead of a second session. Without an
API key (sandbox), checkout links point at the local simulator, which can complete them by
posting a correctly signed ``checkout.session.completed`` to the ingress.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import stripe

from careline_platform.jobs import PermanentJobError

Plan = Literal["monthly", "annual"]


@dataclass(frozen=True)
class CheckoutLink:
    session_id: str
    url: str


class BillingGateway(Protocol):
    async def create_checkout(
        self, *, user_id: str, idempotency_key: str, plan: Plan = "monthly"
    ) -> CheckoutLink: ...

    async def create_portal(self, *, customer_id: str, idempotency_key: str) -> str:
        """A billing portal session's URL for ``customer_id`` (card, plan, cancellation)."""
        ...

    async def subscription(self, subscription_id: str) -> dict[str, Any]: ...

    async def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> str:
        """Cancel a subscription now (no further charge); its status after, ``missing`` when
        Stripe has no such subscription (cancelled and gone already)."""
        ...


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        prices: dict[Plan, str],
        success_url: str,
        api_base: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,  # the job engine retries, with the same idempotency key
            http_client=stripe.HTTPXClient(timeout=timeout_s),
        )
        self.prices = prices
        self.success_url = success_url

    async def create_checkout(
        self, *, user_id: str, idempotency_key: str, plan: Plan = "monthly"
    ) -> CheckoutLink:
        price = self.prices.get(plan)
        if not price:
            raise PermanentJobError(f"no price configured for the {plan} plan")
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params={
                    "mode": "subscription",
                    "client_reference_id": user_id,
                    "line_items": [{"price": price, "quantity": 1}],
                    "success_url": self.success_url,
                    "metadata": {"user_id": user_id},
                    "subscription_data": {"metadata": {"user_id": user_id}},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:  # a bad price or parameter: no retry can fix it
            raise PermanentJobError(f"stripe rejected checkout: {exc.code}") from exc
        return CheckoutLink(session.id, str(session.url))

    async def create_portal(self, *, customer_id: str, idempotency_key: str) -> str:
        try:
            session = await self.client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": self.success_url},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:  # no such customer, no portal configured
            raise PermanentJobError(f"stripe refused the portal session: {exc.code}") from exc
        return str(session.url)

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        sub = await self.client.v1.subscriptions.retrieve_async(subscription_id)
        return dict(sub.to_dict())

    async def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> str:
        try:
            sub = await self.client.v1.subscriptions.cancel_async(
                subscription_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":  # nothing left to charge
                return "missing"
            raise PermanentJobError(f"stripe refused the cancellation: {exc.code}") from exc
        return str(sub.status)


class SandboxGateway:
    """No Stripe account: links to the local checkout simulator (served by ingress in sandbox mode)."""

    def __init__(self, public_base_url: str) -> None:
        self.public_base_url = public_base_url.rstrip("/")

    async def create_checkout(
        self, *, user_id: str, idempotency_key: str, plan: Plan = "monthly"
    ) -> CheckoutLink:
        session_id = "cs_sandbox_" + hashlib.sha1(idempotency_key.encode()).hexdigest()[:24]
        query = f"user={user_id}" + ("&plan=annual" if plan == "annual" else "")
        return CheckoutLink(session_id, f"{self.public_base_url}/dev/checkout/{session_id}?{query}")

    async def create_portal(self, *, customer_id: str, idempotency_key: str) -> str:
        session_id = "bps_sandbox_" + hashlib.sha1(idempotency_key.encode()).hexdigest()[:24]
        return f"{self.public_base_url}/dev/portal/{session_id}"

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        raise PermanentJobError("no Stripe account configured: nothing to fetch")

    async def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> str:
        return "canceled"  # the simulator's subscriptions charge nobody
