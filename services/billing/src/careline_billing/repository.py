"""Billing's own data: ``billing_accounts``, one per caregiver."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class BillingRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.accounts = db.billing_accounts

    async def ensure_indexes(self) -> None:
        await self.accounts.create_index("stripe_customer_id", sparse=True)
        await self.accounts.create_index([("status", ASCENDING)])

    async def open_trial(
        self, user_id: str, now: datetime, trial_end: datetime, session: AsyncClientSession
    ) -> bool:
        """Open the caregiver's trial; True if this created the account."""
        res = await self.accounts.update_one(
            {"_id": user_id},
            {
                "$setOnInsert": {
                    "status": "trialing",
                    "trial_end": trial_end,
                    "created_at": now,
                    "stripe_customer_id": None,
                    "stripe_subscription_id": None,
                    "last_event_at": None,
                    "updated_at": now,
                }
            },
            upsert=True,
            session=session,
        )
        return res.upserted_id is not None

    async def read_caregiver(self, user_id: str) -> Document:
        return {"billing_account": await self.accounts.find_one({"_id": user_id})}

    async def erase_caregiver(self, user_id: str) -> Document:
        jobs = self.accounts.database.jobs
        return {
            "erased": True,
            "deleted": {
                "billing_accounts": (await self.accounts.delete_one({"_id": user_id})).deleted_count,
                "jobs": (
                    await jobs.delete_many({"payload.user_id": user_id, "status": {"$ne": "processing"}})
                ).deleted_count,
            },
        }

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        """Subscriptions by status (index-backed counts)."""
        statuses = ("trialing", "active", "past_due", "canceled", "incomplete", "unpaid", "none")
        return {"subscriptions": {s: await self.accounts.count_documents({"status": s}) for s in statuses}}

    async def find_account(self, user_id: str, session: AsyncClientSession) -> Document | None:
        return await self.accounts.find_one({"_id": user_id}, session=session)

    async def user_for_customer(self, customer: str | None, session: AsyncClientSession) -> str | None:
        if not customer:
            return None
        doc = await self.accounts.find_one({"stripe_customer_id": customer}, {"_id": 1}, session=session)
        return doc["_id"] if doc else None

    async def link_checkout(
        self,
        user_id: str,
        customer: str | None,
        subscription: str | None,
        created: datetime,
        now: datetime,
        session: AsyncClientSession,
    ) -> None:
        """Link the Stripe customer; the subscription's own events set its status."""
        await self.accounts.update_one(
            {"_id": user_id},
            {
                "$set": {
                    "stripe_customer_id": customer,
                    "updated_at": now,
                    "stripe_subscription_id": subscription,
                    "checkout_completed_at": created,
                },
                "$setOnInsert": {"created_at": now, "status": "none", "last_event_at": None},
            },
            upsert=True,
            session=session,
        )

    async def end_trial_if_unsubscribed(
        self, user_id: str, now: datetime, session: AsyncClientSession
    ) -> bool:
        """A trial no subscription replaced ends: status ``none``. True if it changed."""
        res = await self.accounts.update_one(
            {"_id": user_id, "status": "trialing", "stripe_subscription_id": None},
            {"$set": {"status": "none", "trial_ended_at": now, "updated_at": now}},
            session=session,
        )
        return res.modified_count == 1

    async def record_invoice_event(
        self,
        user_id: str,
        kind: str,
        invoice_id: str | None,
        created: datetime,
        now: datetime,
        session: AsyncClientSession,
    ) -> None:
        """Invoices and trial notices are kept as facts; the subscription events move the status."""
        field = {
            "invoice.paid": "last_invoice_paid_at",
            "invoice.payment_failed": "last_payment_failed_at",
            "customer.subscription.trial_will_end": "trial_will_end_notified_at",
        }[kind]
        await self.accounts.update_one(
            {"_id": user_id, "$or": [{field: None}, {field: {"$lt": created}}]},
            {"$set": {field: created, f"{field}_invoice": invoice_id, "updated_at": now}},
            session=session,
        )

    async def overwrite_subscription(
        self, user_id: str, fields: Document, now: datetime, session: AsyncClientSession
    ) -> Document | None:
        """Apply Stripe's current view of the subscription (after a tie); returns the account before."""
        return await self.accounts.find_one_and_update(
            {"_id": user_id}, {"$set": {**fields, "synced_at": now, "updated_at": now}}, session=session
        )

    async def record_checkout_link(
        self, user_id: str, session_id: str, url: str, now: datetime, session: AsyncClientSession
    ) -> None:
        await self.accounts.update_one(
            {"_id": user_id},
            {"$set": {"checkout_session_id": session_id, "checkout_url": url, "checkout_created_at": now}},
            session=session,
        )

    async def apply_subscription(
        self,
        user_id: str,
        customer: str | None,
        fields: Document,
        created: datetime,
        now: datetime,
        session: AsyncClientSession,
    ) -> Document | None:
        """Apply subscription fields unless a newer event was applied already.

        Returns the account as it was before, or None when nothing changed.
        """
        return await self.accounts.find_one_and_update(
            {"_id": user_id, "$or": [{"last_event_at": None}, {"last_event_at": {"$lte": created}}]},
            {"$set": {**fields, "stripe_customer_id": customer, "last_event_at": created, "updated_at": now}},
            return_document=ReturnDocument.BEFORE,
            session=session,
        )
